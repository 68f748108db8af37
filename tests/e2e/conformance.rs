//! The REST conformance suite: one test per transcoding rule, against the
//! conformance proto tree (`tests/conformance/protos`) served by the echo
//! backend (`conformance-echo`), in both modes: in process (one server for gRPC
//! and REST) and remote (a second `conformance-echo --backend` as the gateway).
//!
//! The echo answers with the request message it received, so a reply shows, as
//! proto3 JSON, what the REST surface built from path, query and body. Every case
//! asserts the exact HTTP status and the exact JSON body; a test reports every
//! failing case by name before it fails.

use crate::harness::{Mode, both_modes};
use crate::harness::{free_ports, within};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Value, json};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the servers are configured.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Opts {
    /// `rest.strict`: unknown query parameters and JSON fields are refused.
    strict: bool,
    /// `--auth`: the protos' auth options apply (every method of the tree needs
    /// a token; the development token of the defaults has every scope).
    auth: bool,
}

/// The development token of the embedded defaults.
const DEV_TOKEN: &str = "dev-insecure-token";

/// The largest request body of the suite's servers (413 beyond).
const MAX_BODY: usize = 65_536;

/// One `conformance-echo` process, killed when dropped.
struct Proc {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `conformance-echo` binary, next to the test binary's `deps` directory.
/// Another package's binary is not built for this test target (`cargo test
/// --test e2e` would run a stale one), so the first caller builds it, with the
/// same profile and target directory and the one package selection used
/// everywhere (`--workspace --all-targets`: any other selection would rebuild
/// dependencies with other features; after a full build this is a no-op).
pub(crate) fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .ok_or("the test binary lives in <target>/<profile>/deps")?;
            let target_dir = profile_dir.parent().ok_or("no target directory")?;
            let profile = profile_dir
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or("no profile directory")?;
            let profile = if profile == "debug" { "dev" } else { profile };
            let out = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "--workspace",
                    "--all-targets",
                    "--profile",
                ])
                .arg(profile)
                .arg("--target-dir")
                .arg(target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .map_err(|e| format!("running cargo: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "building conformance-echo failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let bin = profile_dir.join(format!("conformance-echo{}", std::env::consts::EXE_SUFFIX));
            if bin.exists() {
                Ok(bin)
            } else {
                Err(format!("{} is missing after the build", bin.display()))
            }
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts `conformance-echo <args>` and waits until `/readyz` on `http_port`
/// answers 200; on failure, the process's log.
async fn spawn(args: &[String], opts: Opts, http_port: u16) -> Result<Proc, String> {
    let dir = tempfile::Builder::new()
        .prefix("conformance-e2e-")
        .tempdir()
        .expect("tempdir");
    let log_path = dir.path().join("echo.log");
    let log = File::create(&log_path).expect("create log");
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .args(opts.auth.then_some("--auth"))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().expect("clone log")))
        .stderr(Stdio::from(log))
        .env_remove("RUST_LOG");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DOTLANTH__") {
            cmd.env_remove(key);
        }
    }
    cmd.env("DOTLANTH__SERVER__MAX_MESSAGE_BYTES", MAX_BODY.to_string())
        .env("DOTLANTH__REST__STRICT", opts.strict.to_string());
    let mut proc = Proc {
        child: cmd.spawn().expect("spawn conformance-echo"),
        _dir: dir,
    };
    let logs = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let http = Client::new();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = proc.child.try_wait().expect("try_wait") {
            return Err(format!(
                "[conformance-echo exited with {status}]\n{}",
                logs()
            ));
        }
        let ready = http
            .get(format!("http://127.0.0.1:{http_port}/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if matches!(&ready, Ok(r) if r.status() == 200) {
            return Ok(proc);
        }
        if Instant::now() > deadline {
            return Err(format!("[not ready after {READY_TIMEOUT:?}]\n{}", logs()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The servers of one mode, and the failures of the running test.
pub(crate) struct Echo {
    mode: Mode,
    base: String,
    http: Client,
    failures: Mutex<Vec<String>>,
    _procs: Vec<Proc>,
}

/// What came back.
struct Reply {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.text).ok()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `google.rpc.Status` as the REST surface writes it.
fn status(code: i32, message: &str) -> Value {
    json!({ "code": code, "message": message, "details": [] })
}

/// A 400 `INVALID_ARGUMENT` with `message`.
fn invalid(message: &str) -> (u16, Value) {
    (400, status(3, message))
}

impl Echo {
    pub(crate) async fn start(mode: Mode, opts: Opts) -> Echo {
        let mut last = String::new();
        // Picked ports can be taken between the probe and the bind: retry.
        for _ in 0..4 {
            let (http_port, grpc_port) = free_ports();
            let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            let server = match spawn(
                &args(&[
                    "--port",
                    &http_port.to_string(),
                    "--grpc-port",
                    &grpc_port.to_string(),
                ]),
                opts,
                http_port,
            )
            .await
            {
                Ok(p) => p,
                Err(log) => {
                    last = log;
                    continue;
                }
            };
            let (procs, port) = match mode {
                Mode::InProcess => (vec![server], http_port),
                Mode::Remote => {
                    let (gateway_port, _) = free_ports();
                    let backend = format!("http://127.0.0.1:{grpc_port}");
                    match spawn(
                        &args(&["--port", &gateway_port.to_string(), "--backend", &backend]),
                        opts,
                        gateway_port,
                    )
                    .await
                    {
                        Ok(g) => (vec![server, g], gateway_port),
                        Err(log) => {
                            last = log;
                            continue;
                        }
                    }
                }
            };
            return Echo {
                mode,
                base: format!("http://127.0.0.1:{port}"),
                http: Client::new(),
                failures: Mutex::new(Vec::new()),
                _procs: procs,
            };
        }
        panic!("conformance-echo did not start ({mode:?}):\n{last}");
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.req(Method::GET, path)
    }

    /// A JSON request of `method` with `body` as its raw text.
    fn json_body(&self, method: Method, path: &str, body: &str) -> RequestBuilder {
        self.req(method, path)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    async fn send(&self, what: &str, req: RequestBuilder) -> Reply {
        let resp = within(20, what, req.send())
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = within(20, what, resp.text())
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
        Reply {
            status,
            headers,
            text,
        }
    }

    /// Records a failed case.
    fn fail(&self, what: &str, detail: String) {
        self.failures
            .lock()
            .expect("failures")
            .push(format!("{what}: {detail}"));
    }

    /// Records a failure unless `ok`.
    fn check(&self, what: &str, ok: bool, detail: impl FnOnce() -> String) {
        if !ok {
            self.fail(what, detail());
        }
    }

    /// Sends `req`; the reply must have exactly `status` and the JSON `body`.
    async fn expect(&self, what: &str, req: RequestBuilder, status: u16, body: Value) -> Reply {
        let reply = self.send(what, req).await;
        let got = reply.json();
        if reply.status != status || got.as_ref() != Some(&body) {
            self.fail(
                what,
                format!(
                    "expected {status} {body}, got {} {}",
                    reply.status, reply.text
                ),
            );
        }
        reply
    }

    /// `GET path` answers 200 with `body`, from the method `rpc`
    /// (`Service/Method` of package `conformance.v1`).
    async fn route(&self, path: &str, rpc: &str, body: Value) {
        self.routed(Method::GET, path, rpc, body).await;
    }

    async fn routed(&self, method: Method, path: &str, rpc: &str, body: Value) {
        let what = format!("{method} {path}");
        let reply = self.expect(&what, self.req(method, path), 200, body).await;
        self.check_method(&what, &reply, rpc);
    }

    fn check_method(&self, what: &str, reply: &Reply, rpc: &str) {
        let expected = format!("conformance.v1.{rpc}");
        let got = reply.header("x-echo-method");
        self.check(what, got == Some(expected.as_str()), || {
            format!("answered by {got:?}, not {expected}")
        });
    }

    /// `GET path` answers `status` with `body`.
    async fn get_expect(&self, path: &str, (status, body): (u16, Value)) -> Reply {
        self.expect(&format!("GET {path}"), self.get(path), status, body)
            .await
    }

    /// Takes over the failures of `other` (a second server set of the test,
    /// configured as `label` says).
    fn absorb(&self, label: &str, other: Echo) {
        let theirs = std::mem::take(&mut *other.failures.lock().expect("failures"));
        self.failures
            .lock()
            .expect("failures")
            .extend(theirs.into_iter().map(|f| format!("[{label}] {f}")));
    }

    /// Fails the test, naming every failed case.
    fn finish(self) {
        let failures = self.failures.lock().expect("failures");
        if !failures.is_empty() {
            panic!(
                "{} failing case(s) in {:?} mode:\n  {}",
                failures.len(),
                self.mode,
                failures.join("\n  ")
            );
        }
    }
}

both_modes!(routing_by_specificity);
both_modes!(custom_verbs_only_when_registered);
both_modes!(trailing_empty_segments_are_ignored);
both_modes!(path_variables_are_decoded_once);
both_modes!(query_parameters);
both_modes!(scalars_in_path_and_query);
both_modes!(request_bodies);
both_modes!(body_and_response_body_fields);
both_modes!(errors_are_status_json_with_the_mapped_http_status);
both_modes!(metadata_and_deadline_headers);
both_modes!(server_streams);
both_modes!(grpc_on_the_shared_port);

/// Literal beats `*` beats `**`, left to right, whatever the declaration order.
async fn routing_by_specificity(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let any = "RoutingService/ResolveAny";
    let wildcard = "RoutingService/ResolveWildcard";
    e.route(
        "/v1/spec/fixed/leaf",
        "RoutingService/ResolveLiteral",
        json!({}),
    )
    .await;
    e.route("/v1/spec/other/leaf", wildcard, json!({"id": "other"}))
        .await;
    e.route("/v1/spec/fixed", any, json!({"name": "fixed"}))
        .await;
    e.route("/v1/spec/a/b/c", any, json!({"name": "a/b/c"}))
        .await;
    e.route(
        "/v1/spec/fixed/leaf/more",
        any,
        json!({"name": "fixed/leaf/more"}),
    )
    .await;
    e.route("/v1/spec", any, json!({})).await;
    // Both match: the literal at the first differing segment wins.
    e.route(
        "/v1/order/first/last",
        "RoutingService/ResolveEarlyLiteral",
        json!({"name": "last"}),
    )
    .await;
    e.route(
        "/v1/order/x/last",
        "RoutingService/ResolveLateLiteral",
        json!({"id": "x"}),
    )
    .await;
    e.route(
        "/v1/order/first/y",
        "RoutingService/ResolveEarlyLiteral",
        json!({"name": "y"}),
    )
    .await;
    // Other template forms of the tree.
    e.route("/v1/items/x", "RoutingService/GetItem", json!({"id": "x"}))
        .await;
    e.route(
        "/v1/alt/items/x",
        "RoutingService/GetItem",
        json!({"id": "x"}),
    )
    .await;
    e.routed(
        Method::DELETE,
        "/v1/items/x",
        "RoutingService/DeleteItem",
        json!({"id": "x"}),
    )
    .await;
    let head = e
        .send("HEAD /v1/items/x", e.req(Method::HEAD, "/v1/items/x"))
        .await;
    e.check("HEAD /v1/items/x", head.status == 200, || {
        format!("status {}", head.status)
    });
    e.check_method("HEAD /v1/items/x", &head, "RoutingService/CheckItem");
    e.route(
        "/v1/files/a/b",
        "RoutingService/GetFile",
        json!({"name": "files/a/b"}),
    )
    .await;
    e.route(
        "/v1/files",
        "RoutingService/GetFile",
        json!({"name": "files"}),
    )
    .await;
    e.route(
        "/v1/shelves/s1/books/b1",
        "RoutingService/GetBook",
        json!({"book": {"name": "shelves/s1/books/b1"}}),
    )
    .await;
    // `*` never matches an empty segment; `shelves/*/books/*` needs all four.
    e.get_expect(
        "/v1/shelves//books/b1",
        (404, status(5, "no route for GET /v1/shelves//books/b1")),
    )
    .await;
    e.get_expect(
        "/v1/shelves/s1/books",
        (404, status(5, "no route for GET /v1/shelves/s1/books")),
    )
    .await;
    e.finish();
}

/// A `:verb` splits off only when some template registers that verb; otherwise
/// the `:` is ordinary data.
async fn custom_verbs_only_when_registered(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    e.routed(
        Method::POST,
        "/v1/operations/op1:cancel",
        "RoutingService/CancelOperation",
        json!({"name": "operations/op1"}),
    )
    .await;
    e.routed(
        Method::POST,
        "/v1/operations/a/b:cancel",
        "RoutingService/CancelOperation",
        json!({"name": "operations/a/b"}),
    )
    .await;
    // `cancel` with GET: no GET route takes the verb, so the `:` is data.
    e.route(
        "/v1/operations/op1:cancel",
        "RoutingService/GetOperation",
        json!({"name": "operations/op1:cancel"}),
    )
    .await;
    // The verb is split off the raw path: an encoded `:` is data.
    e.route(
        "/v1/operations/op1%3Acancel",
        "RoutingService/GetOperation",
        json!({"name": "operations/op1:cancel"}),
    )
    .await;
    let r = e
        .expect(
            "POST /v1/operations/op1%3Acancel",
            e.req(Method::POST, "/v1/operations/op1%3Acancel"),
            405,
            status(12, "method POST is not allowed here"),
        )
        .await;
    e.check(
        "POST /v1/operations/op1%3Acancel",
        r.header("allow") == Some("GET"),
        || format!("allow {:?}", r.header("allow")),
    );
    // Not a registered verb: data.
    e.route(
        "/v1/operations/a:b",
        "RoutingService/GetOperation",
        json!({"name": "operations/a:b"}),
    )
    .await;
    e.route(
        "/v1/items/a:b",
        "RoutingService/GetItem",
        json!({"id": "a:b"}),
    )
    .await;
    // A registered verb where no template takes it: data too.
    e.route(
        "/v1/items/a:cancel",
        "RoutingService/GetItem",
        json!({"id": "a:cancel"}),
    )
    .await;
    e.route(
        "/v1/items/:x",
        "RoutingService/GetItem",
        json!({"id": ":x"}),
    )
    .await;
    // The verb route with another method: 405 naming the verb route's method.
    let r = e
        .expect(
            "PUT /v1/operations/op1:cancel",
            e.req(Method::PUT, "/v1/operations/op1:cancel"),
            405,
            status(12, "method PUT is not allowed here"),
        )
        .await;
    e.check(
        "PUT /v1/operations/op1:cancel",
        r.header("allow") == Some("GET, POST"),
        || format!("allow {:?}", r.header("allow")),
    );
    e.finish();
}

/// `/v1/items/x/` is `/v1/items/x`.
async fn trailing_empty_segments_are_ignored(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    e.route("/v1/items/x/", "RoutingService/GetItem", json!({"id": "x"}))
        .await;
    e.route(
        "/v1/items/x//",
        "RoutingService/GetItem",
        json!({"id": "x"}),
    )
    .await;
    e.route(
        "/v1/spec/fixed/leaf/",
        "RoutingService/ResolveLiteral",
        json!({}),
    )
    .await;
    e.route(
        "/v1/files/a/b/",
        "RoutingService/GetFile",
        json!({"name": "files/a/b"}),
    )
    .await;
    e.routed(
        Method::POST,
        "/v1/operations/op1/:cancel",
        "RoutingService/CancelOperation",
        json!({"name": "operations/op1"}),
    )
    .await;
    e.routed(
        Method::POST,
        "/v1/operations/op1:cancel/",
        "RoutingService/CancelOperation",
        json!({"name": "operations/op1"}),
    )
    .await;
    e.route(
        "/v1/everything/?int32Value=1",
        "FieldsService/Query",
        json!({"int32Value": 1}),
    )
    .await;
    // Empty segments inside the path are kept.
    e.get_expect(
        "/v1//items/x",
        (404, status(5, "no route for GET /v1//items/x")),
    )
    .await;
    e.finish();
}

/// Single-segment variables are fully percent-decoded, multi-segment ones keep
/// `%2F`, one pass only; a malformed escape is 400; literals match the raw path.
async fn path_variables_are_decoded_once(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let item = "RoutingService/GetItem";
    let file = "RoutingService/GetFile";
    e.route("/v1/items/a%2Fb", item, json!({"id": "a/b"})).await;
    e.route("/v1/items/a%2fb", item, json!({"id": "a/b"})).await;
    e.route("/v1/items/a%20b", item, json!({"id": "a b"})).await;
    e.route("/v1/items/a+b", item, json!({"id": "a+b"})).await;
    e.route("/v1/items/%E2%9C%93", item, json!({"id": "✓"}))
        .await;
    e.route("/v1/items/%3F%23%25", item, json!({"id": "?#%"}))
        .await;
    e.route("/v1/items/%2541", item, json!({"id": "%41"})).await;
    e.route("/v1/files/a%2Fb/c", file, json!({"name": "files/a%2Fb/c"}))
        .await;
    e.route("/v1/files/a%2fb", file, json!({"name": "files/a%2fb"}))
        .await;
    e.route("/v1/files/a%20b/%3A", file, json!({"name": "files/a b/:"}))
        .await;
    e.route("/v1/files/%2541", file, json!({"name": "files/%41"}))
        .await;
    e.route(
        "/v1/shelves/s%2F1/books/b%201",
        "RoutingService/GetBook",
        json!({"book": {"name": "shelves/s%2F1/books/b 1"}}),
    )
    .await;
    e.get_expect(
        "/v1/items/%zz",
        invalid(
            "malformed percent-encoding \"%zz\" at byte 10 of the request path: '%' must be \
             followed by two hex digits",
        ),
    )
    .await;
    e.get_expect(
        "/v1/items/%4",
        invalid(
            "malformed percent-encoding \"%4\" at byte 10 of the request path: '%' must be \
             followed by two hex digits",
        ),
    )
    .await;
    e.get_expect(
        "/v1/nothing/%zz",
        invalid(
            "malformed percent-encoding \"%zz\" at byte 12 of the request path: '%' must be \
             followed by two hex digits",
        ),
    )
    .await;
    e.get_expect(
        "/v1/items/%FF",
        invalid("path variable `id`: not valid UTF-8 once percent-decoded"),
    )
    .await;
    // Matching is on the raw path: an encoded `/` or letter is no literal.
    e.get_expect(
        "/v1/spec%2Ffixed/leaf",
        (404, status(5, "no route for GET /v1/spec%2Ffixed/leaf")),
    )
    .await;
    e.get_expect(
        "/v1/%69tems/x",
        (404, status(5, "no route for GET /v1/%69tems/x")),
    )
    .await;
    e.finish();
}

/// Query strings: `&` and the first `=`, `+` literal, percent-decoded names and
/// values, repetition, dotted names, proto or JSON names, and what is refused.
async fn query_parameters(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let ok = |body: Value| (200, body);
    let q = "/v1/everything";
    let cases: Vec<(String, (u16, Value))> = vec![
        (
            format!("{q}?stringValue=a+b"),
            ok(json!({"stringValue": "a+b"})),
        ),
        (
            format!("{q}?stringValue=a%2Bb%20c"),
            ok(json!({"stringValue": "a+b c"})),
        ),
        (
            format!("{q}?string_value=a=b=c"),
            ok(json!({"stringValue": "a=b=c"})),
        ),
        (
            format!("{q}?string%5Fvalue=x"),
            ok(json!({"stringValue": "x"})),
        ),
        (
            format!("{q}?stringValue=%2541"),
            ok(json!({"stringValue": "%41"})),
        ),
        (
            format!("{q}?stringValue=&int32Value=3"),
            ok(json!({"int32Value": 3})),
        ),
        // Without `=`, or unknown: ignored.
        (
            format!("{q}?flag&stringValue=x&&"),
            ok(json!({"stringValue": "x"})),
        ),
        (
            format!("{q}?nope=1&stringValue=x"),
            ok(json!({"stringValue": "x"})),
        ),
        (format!("{q}?nested.nope=1"), ok(json!({}))),
        // A singular field twice, in either spelling.
        (
            format!("{q}?int32Value=1&int32Value=2"),
            invalid("query parameter `int32Value` is given more than once"),
        ),
        (
            format!("{q}?int32Value=1&int32_value=1"),
            invalid("query parameter `int32_value` is given more than once"),
        ),
        (
            format!("{q}?nested.name=a&nested.name=b"),
            invalid("query parameter `nested.name` is given more than once"),
        ),
        // Repeated fields by repetition.
        (
            format!("{q}?repeatedString=a&repeated_string=b&repeatedString=a"),
            ok(json!({"repeatedString": ["a", "b", "a"]})),
        ),
        (
            format!("{q}?repeatedInt64=1&repeatedInt64=-2"),
            ok(json!({"repeatedInt64": ["1", "-2"]})),
        ),
        (
            format!("{q}?repeatedColor=COLOR_RED&repeatedColor=2"),
            ok(json!({"repeatedColor": ["COLOR_RED", "COLOR_BLUE"]})),
        ),
        (
            format!(
                "{q}?repeatedTimestamp=2024-01-01T00:00:00Z&repeatedTimestamp=2024-01-02T00:00:00Z"
            ),
            ok(json!({"repeatedTimestamp": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"]})),
        ),
        // Nested by dotted names, proto or JSON names.
        (
            format!("{q}?nested.name=n&nested.leaf.value=v&nested.leaf.long_name=l&nested.tags=t"),
            ok(
                json!({"nested": {"name": "n", "leaf": {"value": "v", "longName": "l"}, "tags": ["t"]}}),
            ),
        ),
        (
            format!("{q}?nested.leaf.longName=l&nested.count=7"),
            ok(json!({"nested": {"count": "7", "leaf": {"longName": "l"}}})),
        ),
        // Repeated or map message fields, and messages, are not query parameters.
        (
            format!("{q}?repeatedNested=x"),
            invalid("query parameter `repeatedNested` names a repeated message or map field"),
        ),
        (
            format!("{q}?repeatedNested.name=x"),
            invalid("query parameter `repeatedNested.name` goes through a repeated or map field"),
        ),
        (
            format!("{q}?stringMap=x"),
            invalid("query parameter `stringMap` names a repeated message or map field"),
        ),
        (
            format!("{q}?string_map.k=v"),
            invalid("query parameter `string_map.k` goes through a repeated or map field"),
        ),
        (
            format!("{q}?nestedMap.k.name=v"),
            invalid("query parameter `nestedMap.k.name` goes through a repeated or map field"),
        ),
        (
            format!("{q}?nested=x"),
            invalid(
                "query parameter `nested` names a message; set its fields (`nested.field=...`)",
            ),
        ),
        // Malformed escapes.
        (
            format!("{q}?stringValue=%zz"),
            invalid("query `%zz`: malformed percent-encoding at byte 0"),
        ),
        (
            format!("{q}?string%4=x"),
            invalid("query `string%4`: malformed percent-encoding at byte 6"),
        ),
        // A path-bound field in the query is ignored.
        (
            "/v1/everything/p?stringValue=q&string_value=r&int32Value=1".to_string(),
            ok(json!({"stringValue": "p", "int32Value": 1})),
        ),
        (
            "/v1/shelves/s/books/b?book.title=T&book.name=x&book_name=y".to_string(),
            ok(json!({"book": {"name": "shelves/s/books/b", "title": "T"}})),
        ),
        (
            "/v1/leaves/v?nested.leaf.value=w&nested.name=n".to_string(),
            ok(json!({"nested": {"name": "n", "leaf": {"value": "v"}}})),
        ),
    ];
    for (path, expected) in cases {
        e.get_expect(&path, expected).await;
    }

    // Strict mode: unknown names are refused; the rest is the same.
    let s = Echo::start(
        mode,
        Opts {
            strict: true,
            ..Opts::default()
        },
    )
    .await;
    s.get_expect(
        "/v1/everything?nope=1&stringValue=x",
        invalid("unknown query parameter `nope`"),
    )
    .await;
    s.get_expect(
        "/v1/everything?nested.nope=1",
        invalid("unknown query parameter `nested.nope`"),
    )
    .await;
    s.get_expect(
        "/v1/everything?flag&stringValue=x",
        (200, json!({"stringValue": "x"})),
    )
    .await;
    e.absorb("strict", s);
    e.finish();
}

/// Scalars in the path and the query take their proto3-JSON forms.
async fn scalars_in_path_and_query(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let ok = |body: Value| (200, body);
    let q = "/v1/everything";
    let cases: Vec<(String, (u16, Value))> = vec![
        // Path: int64, uint64, bool, enum, double, bytes.
        (
            "/v1/scalars/-9223372036854775808/18446744073709551615/true/COLOR_BLUE/1.5/AQID"
                .to_string(),
            ok(json!({
                "int64Value": "-9223372036854775808",
                "uint64Value": "18446744073709551615",
                "boolValue": true,
                "color": "COLOR_BLUE",
                "doubleValue": 1.5,
                "bytesValue": "AQID",
            })),
        ),
        (
            "/v1/scalars/9007199254740993/0/false/2/-1e3/-_8".to_string(),
            ok(json!({
                "int64Value": "9007199254740993",
                "color": "COLOR_BLUE",
                "doubleValue": -1000.0,
                "bytesValue": "+/8=",
            })),
        ),
        (
            "/v1/scalars/1/1/true/0/NaN/%2B%2F8%3D".to_string(),
            ok(json!({
                "int64Value": "1",
                "uint64Value": "1",
                "boolValue": true,
                "doubleValue": "NaN",
                "bytesValue": "+/8=",
            })),
        ),
        (
            "/v1/scalars/9223372036854775808/0/true/0/1/AA".to_string(),
            invalid("path variable int64_value: number too large to fit in target type"),
        ),
        (
            "/v1/scalars/1/-1/true/0/1/AA".to_string(),
            invalid("path variable uint64_value: invalid digit found in string"),
        ),
        (
            "/v1/scalars/1/1/1/0/1/AA".to_string(),
            invalid("path variable bool_value: `1` is not `true` or `false`"),
        ),
        (
            "/v1/scalars/1/1/True/0/1/AA".to_string(),
            invalid("path variable bool_value: `True` is not `true` or `false`"),
        ),
        (
            "/v1/scalars/1/1/true/color_blue/1/AA".to_string(),
            invalid("path variable color: `color_blue` is not a value of conformance.v1.Color"),
        ),
        (
            "/v1/scalars/1/1/true/3/1/AA".to_string(),
            invalid("path variable color: `3` is not a value of conformance.v1.Color"),
        ),
        (
            "/v1/scalars/1/1/true/0/x/AA".to_string(),
            invalid("path variable double_value: `x` is not a number"),
        ),
        (
            "/v1/scalars/1/1/true/0/1/A".to_string(),
            invalid("path variable bytes_value: invalid base64: Invalid input length: 1"),
        ),
        // Well-known types in the path.
        (
            "/v1/times/2024-01-02T03:04:05.5Z/1.5s/7".to_string(),
            ok(json!({
                "timestamp": "2024-01-02T03:04:05.500Z",
                "duration": "1.500s",
                "wrappedInt32": 7,
            })),
        ),
        (
            "/v1/times/2024-01-02T03:04:05+01:00/-2s/0".to_string(),
            ok(json!({
                "timestamp": "2024-01-02T02:04:05Z",
                "duration": "-2s",
                "wrappedInt32": 0,
            })),
        ),
        (
            "/v1/times/yesterday/1s/0".to_string(),
            invalid("path variable timestamp: invalid rfc3339 timestamp: invalid date"),
        ),
        (
            "/v1/times/2024-01-02T03:04:05Z/1.5/0".to_string(),
            invalid("path variable duration: failed to parse duration"),
        ),
        // Query: integers exact, ranges checked.
        (
            format!(
                "{q}?int64Value=9223372036854775807&uint32Value=4294967295&sint64Value=-5&fixed64Value=18446744073709551615&sfixed32Value=-1&int32Value=-2147483648"
            ),
            ok(json!({
                "int64Value": "9223372036854775807",
                "uint32Value": 4294967295u32,
                "sint64Value": "-5",
                "fixed64Value": "18446744073709551615",
                "sfixed32Value": -1,
                "int32Value": -2147483648i32,
            })),
        ),
        (
            format!("{q}?int32Value=2147483648"),
            invalid("query parameter `int32Value`: number too large to fit in target type"),
        ),
        (
            format!("{q}?int64Value=-9223372036854775809"),
            invalid("query parameter `int64Value`: number too small to fit in target type"),
        ),
        (
            format!("{q}?uint32Value=-1"),
            invalid("query parameter `uint32Value`: invalid digit found in string"),
        ),
        (
            format!("{q}?int64Value=abc"),
            invalid("query parameter `int64Value`: invalid digit found in string"),
        ),
        // Bools.
        (
            format!("{q}?boolValue=true"),
            ok(json!({"boolValue": true})),
        ),
        (format!("{q}?boolValue=false"), ok(json!({}))),
        (
            format!("{q}?boolValue=1"),
            invalid("query parameter `boolValue`: `1` is not `true` or `false`"),
        ),
        (
            format!("{q}?boolValue=True"),
            invalid("query parameter `boolValue`: `True` is not `true` or `false`"),
        ),
        // Enums by name or number, case-sensitive, in range.
        (
            format!("{q}?color=COLOR_RED"),
            ok(json!({"color": "COLOR_RED"})),
        ),
        (format!("{q}?color=2"), ok(json!({"color": "COLOR_BLUE"}))),
        (
            format!("{q}?color=Color_Red"),
            invalid("query parameter `color`: `Color_Red` is not a value of conformance.v1.Color"),
        ),
        (
            format!("{q}?color=9"),
            invalid("query parameter `color`: `9` is not a value of conformance.v1.Color"),
        ),
        (
            format!("{q}?repeatedColor=COLOR_RED&repeatedColor=-1"),
            invalid("query parameter `repeatedColor`: `-1` is not a value of conformance.v1.Color"),
        ),
        // Floats.
        (
            format!("{q}?doubleValue=Infinity&floatValue=-0.5"),
            ok(json!({"doubleValue": "Infinity", "floatValue": -0.5})),
        ),
        (
            format!("{q}?floatValue=0.1&wrappedFloat=3.4e38&repeatedString=x"),
            ok(json!({"floatValue": 0.1, "wrappedFloat": 3.4e38, "repeatedString": ["x"]})),
        ),
        (
            format!("{q}?floatValue=1e39"),
            invalid("query parameter `floatValue`: `1e39` is out of range for float"),
        ),
        (
            format!("{q}?doubleValue=-1e400"),
            invalid("query parameter `doubleValue`: `-1e400` is out of range for double"),
        ),
        (
            format!("{q}?doubleValue=inf"),
            invalid("query parameter `doubleValue`: `inf` is not a number"),
        ),
        (
            format!("{q}?wrappedFloat=-1e39"),
            invalid("query parameter `wrappedFloat`: `-1e39` is out of range for float"),
        ),
        // Well-known types.
        (
            format!("{q}?timestamp=1970-01-01T00:00:01.000000001Z&duration=0.000001s"),
            ok(json!({"timestamp": "1970-01-01T00:00:01.000000001Z", "duration": "0.000001s"})),
        ),
        (
            format!("{q}?fieldMask=int64Value,nested.leaf.longName"),
            ok(json!({"fieldMask": "int64Value,nested.leaf.longName"})),
        ),
        // Bytes: standard (a literal `+`) or URL-safe base64.
        (
            format!("{q}?bytesValue=+/8="),
            ok(json!({"bytesValue": "+/8="})),
        ),
        (
            format!("{q}?bytesValue=-_8"),
            ok(json!({"bytesValue": "+/8="})),
        ),
        (
            format!("{q}?bytesValue=%2B%2F8%3D"),
            ok(json!({"bytesValue": "+/8="})),
        ),
        (
            format!("{q}?bytesValue=*"),
            invalid("query parameter `bytesValue`: invalid base64: Invalid symbol 42, offset 0."),
        ),
        // Wrappers as their scalar; present even when zero.
        (
            format!(
                "{q}?wrappedInt32=0&wrappedInt64=5&wrappedUint64=6&wrappedUint32=7&wrappedBool=false&wrappedString=&wrappedDouble=2.5&wrappedFloat=0&wrappedBytes=AQ=="
            ),
            ok(json!({
                "wrappedInt32": 0,
                "wrappedInt64": "5",
                "wrappedUint64": "6",
                "wrappedUint32": 7,
                "wrappedBool": false,
                "wrappedString": "",
                "wrappedDouble": 2.5,
                "wrappedFloat": 0.0,
                "wrappedBytes": "AQ==",
            })),
        ),
        (
            format!("{q}?wrappedDouble=-Infinity&wrappedFloat=NaN&doubleValue=Infinity"),
            ok(
                json!({"wrappedDouble": "-Infinity", "wrappedFloat": "NaN", "doubleValue": "Infinity"}),
            ),
        ),
        (
            format!("{q}?wrappedBool=yes"),
            invalid("query parameter `wrappedBool`: `yes` is not `true` or `false`"),
        ),
        (
            format!("{q}?optionalInt32=0"),
            ok(json!({"optionalInt32": 0})),
        ),
    ];
    for (path, expected) in cases {
        e.get_expect(&path, expected).await;
    }
    e.finish();
}

/// Request bodies: unknown fields, empty, malformed, duplicate keys, `null`,
/// content types and the size limit.
async fn request_bodies(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let post = |body: &str| e.json_body(Method::POST, "/v1/star/p", body);
    let cases: Vec<(&str, RequestBuilder, (u16, Value))> = vec![
        (
            "unknown fields ignored",
            post(r#"{"int32Value": 5, "nope": {"x": [1]}, "nested": {"zzz": 1}}"#),
            (
                200,
                json!({"stringValue": "p", "int32Value": 5, "nested": {}}),
            ),
        ),
        ("empty body", post(""), (200, json!({"stringValue": "p"}))),
        (
            "empty body without a content type",
            e.req(Method::POST, "/v1/star/p"),
            (200, json!({"stringValue": "p"})),
        ),
        (
            "whitespace body",
            post(" \n"),
            (200, json!({"stringValue": "p"})),
        ),
        (
            "empty object",
            post("{}"),
            (200, json!({"stringValue": "p"})),
        ),
        (
            "malformed JSON",
            post(r#"{"int32Value":"#),
            invalid("malformed JSON body: EOF while parsing a value at line 1 column 14"),
        ),
        (
            "trailing garbage",
            post(r#"{} {}"#),
            invalid("malformed JSON body: trailing characters at line 1 column 4"),
        ),
        (
            "not an object",
            post("[1]"),
            invalid("the JSON body must be an object"),
        ),
        (
            "last duplicate key wins",
            post(
                r#"{"int32Value": 1, "int32Value": 2, "nested": {"name": "a"}, "nested": {"count": "3"}}"#,
            ),
            (
                200,
                json!({"stringValue": "p", "int32Value": 2, "nested": {"count": "3"}}),
            ),
        ),
        (
            "null is unset",
            post(
                r#"{"int32Value": null, "nested": null, "repeatedString": null, "stringMap": null, "wrappedInt32": null, "color": null}"#,
            ),
            (200, json!({"stringValue": "p"})),
        ),
        (
            "a float out of range, as a string",
            post(r#"{"nested": {}, "floatValue": "1e39"}"#),
            invalid("invalid request: `floatValue`: `1e39` is out of range for float"),
        ),
        (
            "a double given as inf",
            post(r#"{"wrappedDouble": "inf"}"#),
            invalid("invalid request: `wrappedDouble`: `inf` is not a number"),
        ),
        (
            "floats as strings",
            post(r#"{"doubleValue": "-Infinity", "floatValue": "0.5", "wrappedFloat": "NaN"}"#),
            (
                200,
                json!({"stringValue": "p", "doubleValue": "-Infinity", "floatValue": 0.5, "wrappedFloat": "NaN"}),
            ),
        ),
        (
            "proto names",
            post(r#"{"int64_value": "12", "nested": {"leaf": {"long_name": "l"}}}"#),
            (
                200,
                json!({"stringValue": "p", "int64Value": "12", "nested": {"leaf": {"longName": "l"}}}),
            ),
        ),
        (
            "JSON with a charset",
            e.req(Method::POST, "/v1/star/p")
                .header("content-type", "application/json; charset=utf-8")
                .body(r#"{"int32Value": 1}"#),
            (200, json!({"stringValue": "p", "int32Value": 1})),
        ),
        (
            "text/plain",
            e.req(Method::POST, "/v1/star/p")
                .header("content-type", "text/plain")
                .body(r#"{"int32Value": 1}"#),
            (
                415,
                status(3, "the body must be JSON (content-type: application/json)"),
            ),
        ),
        (
            "no content type",
            e.req(Method::POST, "/v1/star/p")
                .body(r#"{"int32Value": 1}"#),
            (
                415,
                status(3, "the body must be JSON (content-type: application/json)"),
            ),
        ),
        (
            "form",
            e.req(Method::POST, "/v1/star/p")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("int32Value=1"),
            (
                415,
                status(3, "the body must be JSON (content-type: application/json)"),
            ),
        ),
        (
            "over the limit",
            post(&format!(r#"{{"stringValue": "{}"}}"#, "x".repeat(MAX_BODY))),
            (
                413,
                status(8, &format!("request body over {MAX_BODY} bytes")),
            ),
        ),
        (
            "over the limit, field body",
            e.json_body(Method::PUT, "/v1/body/repeated", &" ".repeat(MAX_BODY + 1)),
            (
                413,
                status(8, &format!("request body over {MAX_BODY} bytes")),
            ),
        ),
    ];
    for (what, req, (status, body)) in cases {
        e.expect(what, req, status, body).await;
    }

    // Strict mode: unknown fields are refused, at any depth.
    let s = Echo::start(
        mode,
        Opts {
            strict: true,
            ..Opts::default()
        },
    )
    .await;
    s.expect(
        "strict: unknown field",
        s.json_body(
            Method::POST,
            "/v1/star/p",
            r#"{"int32Value": 5, "nope": 1}"#,
        ),
        400,
        status(3, "invalid request: unrecognized field name 'nope'"),
    )
    .await;
    s.expect(
        "strict: unknown nested field",
        s.json_body(Method::POST, "/v1/star/p", r#"{"nested": {"zzz": 1}}"#),
        400,
        status(
            3,
            "invalid request: `nested`: unrecognized field name 'zzz'",
        ),
    )
    .await;
    // A value of the wrong type names its field, however deep.
    s.expect(
        "a nested value of the wrong type",
        s.json_body(
            Method::POST,
            "/v1/star/p",
            r#"{"nested": {"leaf": {"longName": 5}}}"#,
        ),
        400,
        status(
            3,
            "invalid request: `nested.leaf.longName`: invalid type: integer `5`, expected a string",
        ),
    )
    .await;
    s.expect(
        "an int32 that is no number",
        s.json_body(Method::POST, "/v1/star/p", r#"{"int32Value": "x"}"#),
        400,
        status(
            3,
            "invalid request: `int32Value`: invalid digit found in string",
        ),
    )
    .await;
    s.expect(
        "strict: known fields",
        s.json_body(Method::POST, "/v1/star/p", r#"{"int32Value": 5}"#),
        200,
        json!({"stringValue": "p", "int32Value": 5}),
    )
    .await;
    e.absorb("strict", s);
    e.finish();
}

/// `body: "*"` binds no query parameter and the path wins over the body; `body:
/// "<field>"` for a message, a scalar, a repeated and a map field;
/// `response_body` for a message, a scalar and a repeated field.
async fn body_and_response_body_fields(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let cases: Vec<(&str, RequestBuilder, (u16, Value))> = vec![
        (
            "star: no query binding",
            e.json_body(
                Method::POST,
                "/v1/star/p?int32Value=5&stringValue=q",
                r#"{"int64Value": "1"}"#,
            ),
            (200, json!({"stringValue": "p", "int64Value": "1"})),
        ),
        (
            "star: the path wins over the body",
            e.json_body(
                Method::POST,
                "/v1/star/p",
                r#"{"stringValue": "body", "int32Value": 2}"#,
            ),
            (200, json!({"stringValue": "p", "int32Value": 2})),
        ),
        (
            "star: the path wins over the body's proto name",
            e.json_body(
                Method::POST,
                "/v1/star/p%20q",
                r#"{"string_value": "body"}"#,
            ),
            (200, json!({"stringValue": "p q"})),
        ),
        (
            "star: a multi-segment path variable wins over the body",
            e.json_body(
                Method::POST,
                "/v1/operations/op1:cancel",
                r#"{"name": "other", "note": "n"}"#,
            ),
            (200, json!({"name": "operations/op1", "note": "n"})),
        ),
        (
            "message field body, the rest from the query",
            e.json_body(
                Method::POST,
                "/v1/body/message?int32Value=3&nested.name=q&repeatedString=r",
                r#"{"name": "n", "count": "5", "leaf": {"longName": "l"}}"#,
            ),
            (
                200,
                json!({
                    "int32Value": 3,
                    "repeatedString": ["r"],
                    "nested": {"name": "n", "count": "5", "leaf": {"longName": "l"}},
                }),
            ),
        ),
        (
            "message field body, empty",
            e.req(Method::POST, "/v1/body/message?int32Value=3"),
            (200, json!({"int32Value": 3})),
        ),
        (
            "message field body, null",
            e.json_body(Method::POST, "/v1/body/message", "null"),
            (200, json!({})),
        ),
        (
            "message field body, not an object",
            e.json_body(Method::POST, "/v1/body/message", "[]"),
            invalid("the body (field `nested`): invalid type: sequence, expected a map"),
        ),
        (
            "scalar field body: a JSON string",
            e.json_body(Method::POST, "/v1/body/scalar?int32Value=1", r#""42""#),
            (200, json!({"int64Value": "42", "int32Value": 1})),
        ),
        (
            "scalar field body: a JSON number",
            e.json_body(Method::POST, "/v1/body/scalar", "-7"),
            (200, json!({"int64Value": "-7"})),
        ),
        (
            "scalar field body: the query does not set it",
            e.json_body(Method::POST, "/v1/body/scalar?int64Value=9", "8"),
            (200, json!({"int64Value": "8"})),
        ),
        (
            "scalar field body: an object",
            e.json_body(Method::POST, "/v1/body/scalar", "{}"),
            invalid(
                "the body (field `int64_value`): invalid type: map, expected a 64-bit signed integer or decimal string",
            ),
        ),
        (
            "repeated field body: an array",
            e.json_body(
                Method::PUT,
                "/v1/body/repeated",
                r#"[{"name": "a"}, {"count": "2"}]"#,
            ),
            (
                200,
                json!({"repeatedNested": [{"name": "a"}, {"count": "2"}]}),
            ),
        ),
        (
            "repeated field body: not an array",
            e.json_body(Method::PUT, "/v1/body/repeated", r#"{"name": "a"}"#),
            invalid("the body (field `repeated_nested`): invalid type: map, expected a list"),
        ),
        (
            "map field body: an object",
            e.json_body(
                Method::PUT,
                "/v1/body/map?stringValue=s",
                r#"{"k": "v", "": "e"}"#,
            ),
            (
                200,
                json!({"stringValue": "s", "stringMap": {"k": "v", "": "e"}}),
            ),
        ),
        (
            "response_body: a message",
            e.get("/v1/response/message?nested.name=n&int32Value=1"),
            (200, json!({"name": "n"})),
        ),
        (
            "response_body: an unset message",
            e.get("/v1/response/message?int32Value=1"),
            (200, json!({})),
        ),
        (
            "response_body: a scalar",
            e.get("/v1/response/scalar?int64Value=5"),
            (200, json!("5")),
        ),
        (
            "response_body: a default scalar",
            e.get("/v1/response/scalar"),
            (200, json!("0")),
        ),
        (
            "response_body: a repeated field",
            e.get("/v1/response/repeated?repeatedString=a&repeatedString=b"),
            (200, json!(["a", "b"])),
        ),
        (
            "response_body: an empty repeated field",
            e.get("/v1/response/repeated"),
            (200, json!([])),
        ),
    ];
    for (what, req, (status, body)) in cases {
        e.expect(what, req, status, body).await;
    }
    // Strict mode: a `*` route takes no query parameters at all.
    let s = Echo::start(
        mode,
        Opts {
            strict: true,
            ..Opts::default()
        },
    )
    .await;
    s.expect(
        "strict: star with a query",
        s.json_body(Method::POST, "/v1/star/p?int32Value=5", "{}"),
        400,
        status(
            3,
            "this route takes no query parameters (got `int32Value=5`)",
        ),
    )
    .await;
    e.absorb("strict", s);
    e.finish();
}

/// Every status code as `google.rpc.Status` JSON with the HTTP status of the
/// standard table; unknown paths 404, known paths with another method 405.
async fn errors_are_status_json_with_the_mapped_http_status(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let table: [(&str, i32, u16); 16] = [
        ("CANCELLED", 1, 499),
        ("UNKNOWN", 2, 500),
        ("INVALID_ARGUMENT", 3, 400),
        ("DEADLINE_EXCEEDED", 4, 504),
        ("NOT_FOUND", 5, 404),
        ("ALREADY_EXISTS", 6, 409),
        ("PERMISSION_DENIED", 7, 403),
        ("RESOURCE_EXHAUSTED", 8, 429),
        ("FAILED_PRECONDITION", 9, 400),
        ("ABORTED", 10, 409),
        ("OUT_OF_RANGE", 11, 400),
        ("UNIMPLEMENTED", 12, 501),
        ("INTERNAL", 13, 500),
        ("UNAVAILABLE", 14, 503),
        ("DATA_LOSS", 15, 500),
        ("UNAUTHENTICATED", 16, 401),
    ];
    for (name, code, http) in table {
        let what = format!("x-echo-error: {name}");
        let r = e
            .expect(
                &what,
                e.get("/v1/items/x").header("x-echo-error", name),
                http,
                status(code, &format!("echo: {name}")),
            )
            .await;
        e.check(
            &what,
            r.header("content-type") == Some("application/json"),
            || format!("content-type {:?}", r.header("content-type")),
        );
        e.check_method(&what, &r, "RoutingService/GetItem");
        let challenge = r.header("www-authenticate");
        let expected = (name == "UNAUTHENTICATED").then_some("Bearer");
        e.check(&what, challenge == expected, || {
            format!("www-authenticate {challenge:?}, expected {expected:?}")
        });
    }
    e.expect(
        "x-echo-message",
        e.req(Method::DELETE, "/v1/items/x")
            .header("x-echo-error", "ALREADY_EXISTS")
            .header("x-echo-message", "item x exists"),
        409,
        status(6, "item x exists"),
    )
    .await;
    e.expect(
        "x-echo-error by number",
        e.get("/v1/items/x").header("x-echo-error", "9"),
        400,
        status(9, "echo: FAILED_PRECONDITION"),
    )
    .await;
    // The gate's own refusals (with `--auth`) take the same form.
    let a = Echo::start(
        mode,
        Opts {
            auth: true,
            ..Opts::default()
        },
    )
    .await;
    for (what, token, message) in [
        (
            "no token",
            None,
            "missing bearer token (send `authorization: Bearer <token>`)",
        ),
        ("a wrong token", Some("nope"), "invalid bearer token"),
    ] {
        let mut req = a.get("/v1/items/x");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = a.expect(what, req, 401, status(16, message)).await;
        a.check(what, r.header("www-authenticate") == Some("Bearer"), || {
            format!("www-authenticate {:?}", r.header("www-authenticate"))
        });
    }
    a.expect(
        "the development token",
        a.get("/v1/items/x").bearer_auth(DEV_TOKEN),
        200,
        json!({"id": "x"}),
    )
    .await;
    e.absorb("auth", a);
    e.get_expect(
        "/v1/nothing/here",
        (404, status(5, "no route for GET /v1/nothing/here")),
    )
    .await;
    e.get_expect("/", (404, status(5, "no route for GET /")))
        .await;
    for (method, path, allow) in [
        (Method::PUT, "/v1/items/x", "DELETE, GET, HEAD"),
        (Method::POST, "/v1/spec/fixed/leaf", "GET"),
        (Method::GET, "/v1/star/p", "POST"),
        (Method::PATCH, "/v1/body/map", "PUT"),
    ] {
        let what = format!("{method} {path}");
        let r = e
            .expect(
                &what,
                e.req(method.clone(), path),
                405,
                status(12, &format!("method {method} is not allowed here")),
            )
            .await;
        e.check(&what, r.header("allow") == Some(allow), || {
            format!("allow {:?}, expected {allow}", r.header("allow"))
        });
    }
    e.finish();
}

/// `Grpc-Metadata-<k>` request headers become call metadata and response
/// metadata comes back as `Grpc-Metadata-<k>`; `grpc-timeout` bounds the call.
async fn metadata_and_deadline_headers(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let what = "Grpc-Metadata-Tenant";
    let r = e
        .expect(
            what,
            e.get("/v1/items/x")
                .header("Grpc-Metadata-Tenant", "acme")
                .header("Grpc-Metadata-Trace-Bin", "AQID")
                .header("x-not-metadata", "1"),
            200,
            json!({"id": "x"}),
        )
        .await;
    for (name, expected) in [
        ("grpc-metadata-tenant", Some("acme")),
        ("grpc-metadata-trace-bin", Some("AQID")),
        (
            "grpc-metadata-x-echo-method",
            Some("conformance.v1.RoutingService/GetItem"),
        ),
        // Forwarded headers keep their own names too.
        (
            "x-echo-method",
            Some("conformance.v1.RoutingService/GetItem"),
        ),
        // Plain headers are not metadata; transport headers are not echoed.
        ("grpc-metadata-x-not-metadata", None),
        ("grpc-metadata-vary", None),
        ("grpc-metadata-access-control-expose-headers", None),
        ("tenant", None),
    ] {
        e.check(what, r.header(name) == expected, || {
            format!("{name}: {:?}, expected {expected:?}", r.header(name))
        });
    }
    // On errors too.
    let what = "metadata on an error";
    let r = e
        .expect(
            what,
            e.get("/v1/items/x")
                .header("Grpc-Metadata-Tenant", "acme")
                .header("x-echo-error", "NOT_FOUND"),
            404,
            status(5, "echo: NOT_FOUND"),
        )
        .await;
    e.check(
        what,
        r.header("grpc-metadata-tenant") == Some("acme"),
        || format!("{:?}", r.headers),
    );
    // Reserved names are not client metadata.
    let what = "reserved metadata";
    let r = e
        .expect(
            what,
            e.get("/v1/items/x")
                .header("Grpc-Metadata-Grpc-Foo", "1")
                .header("Grpc-Metadata-Content-Type", "text/plain"),
            200,
            json!({"id": "x"}),
        )
        .await;
    for name in ["grpc-metadata-grpc-foo", "grpc-metadata-content-type"] {
        e.check(what, r.header(name).is_none(), || {
            format!("{name}: {:?}", r.header(name))
        });
    }

    // `grpc-timeout`: the call outlives it (the echo waits 3 s first).
    let started = Instant::now();
    e.expect(
        "grpc-timeout expires",
        e.get("/v1/items/x")
            .header("grpc-timeout", "200m")
            .header("x-echo-delay-ms", "3000"),
        504,
        status(4, "the grpc-timeout deadline passed"),
    )
    .await;
    let took = started.elapsed();
    e.check(
        "grpc-timeout expires",
        took < Duration::from_millis(2500),
        || format!("took {took:?}"),
    );
    e.expect(
        "grpc-timeout of zero",
        e.get("/v1/items/x").header("grpc-timeout", "0m"),
        504,
        status(4, "the grpc-timeout deadline passed"),
    )
    .await;
    e.expect(
        "a malformed grpc-timeout is ignored",
        e.get("/v1/items/x").header("grpc-timeout", "soon"),
        200,
        json!({"id": "x"}),
    )
    .await;
    e.expect(
        "grpc-timeout before the first stream message",
        e.get("/v1/watch")
            .header("grpc-timeout", "200m")
            .header("x-echo-delay-ms", "3000"),
        504,
        status(4, "the grpc-timeout deadline passed"),
    )
    .await;
    e.expect(
        "grpc-timeout in time",
        e.get("/v1/items/x")
            .header("grpc-timeout", "5S")
            .header("x-echo-delay-ms", "10"),
        200,
        json!({"id": "x"}),
    )
    .await;
    e.finish();
}

/// `StreamService.Watch`: NDJSON `{"result": …}` lines, a last `{"error": …}`
/// line on failure after messages, the mapped HTTP status on failure before
/// any; SSE with `Accept: text/event-stream`.
async fn server_streams(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let watch = |count: &str| {
        e.get("/v1/watch?stringValue=s&int64Value=3")
            .header("x-echo-count", count)
    };
    let item = json!({"stringValue": "s", "int64Value": "3"});
    let result_line = json!({ "result": item }).to_string();
    let ndjson = |what: &str, r: &Reply, status: u16, lines: Vec<String>| {
        let got: Vec<&str> = r.text.lines().collect();
        let ok = r.status == status
            && r.header("content-type") == Some("application/x-ndjson")
            && got == lines.iter().map(String::as_str).collect::<Vec<_>>()
            && r.text.ends_with('\n');
        e.check(what, ok, || {
            format!(
                "expected {status} NDJSON {lines:?}, got {} {:?} {:?}",
                r.status,
                r.header("content-type"),
                r.text
            )
        });
    };

    let r = e.send("three messages", watch("3")).await;
    ndjson("three messages", &r, 200, vec![result_line.clone(); 3]);
    e.check_method("three messages", &r, "StreamService/Watch");

    let r = e.send("no message", watch("0")).await;
    e.check("no message", r.status == 200 && r.text.is_empty(), || {
        format!("{} {:?}", r.status, r.text)
    });

    let what = "failure after messages";
    let r = e
        .send(what, watch("2").header("x-echo-error", "ABORTED"))
        .await;
    let error = json!({ "error": status(10, "echo: ABORTED") }).to_string();
    ndjson(
        what,
        &r,
        200,
        vec![result_line.clone(), result_line.clone(), error],
    );

    // Failures before the first message are ordinary error replies.
    e.expect(
        "failure before any message",
        watch("0").header("x-echo-error", "NOT_FOUND"),
        404,
        status(5, "echo: NOT_FOUND"),
    )
    .await;
    e.expect(
        "refused before any message",
        e.get("/v1/watch").header("x-echo-count", "x"),
        400,
        status(3, "x-echo-count must be 0 to 10000"),
    )
    .await;
    e.expect(
        "a bad query",
        e.get("/v1/watch?int32Value=x"),
        400,
        status(
            3,
            "query parameter `int32Value`: invalid digit found in string",
        ),
    )
    .await;

    // SSE: `data:` per message, `event: error` with the status at the end.
    let sse = |count: &str| watch(count).header("accept", "text/event-stream");
    let data = format!("data: {item}\n\n");
    let what = "SSE";
    let r = e.send(what, sse("2")).await;
    e.check(
        what,
        r.status == 200
            && r.header("content-type") == Some("text/event-stream")
            && r.text == data.repeat(2),
        || format!("{} {:?} {:?}", r.status, r.header("content-type"), r.text),
    );
    let what = "SSE without messages";
    let r = e.send(what, sse("0")).await;
    e.check(
        what,
        r.status == 200
            && r.header("content-type") == Some("text/event-stream")
            && r.text.is_empty(),
        || format!("{} {:?} {:?}", r.status, r.header("content-type"), r.text),
    );
    let what = "SSE failure after a message";
    let r = e
        .send(what, sse("1").header("x-echo-error", "DATA_LOSS"))
        .await;
    let expected = format!(
        "{data}event: error\ndata: {}\n\n",
        status(15, "echo: DATA_LOSS")
    );
    e.check(what, r.status == 200 && r.text == expected, || {
        format!("{} {:?}, expected {expected:?}", r.status, r.text)
    });
    e.expect(
        "SSE failure before any message",
        sse("0").header("x-echo-error", "PERMISSION_DENIED"),
        403,
        status(7, "echo: PERMISSION_DENIED"),
    )
    .await;
    e.finish();
}

/// gRPC on the HTTP port: a request with `content-type: application/grpc` is
/// never REST, so an unknown method is `UNIMPLEMENTED`, not a REST 404.
async fn grpc_on_the_shared_port(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let channel = tonic::transport::Endpoint::from_shared(e.base.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to the HTTP port");
    let unknown = crate::grpc::raw_unary(
        channel.clone(),
        "/conformance.v1.Nope/Foo",
        bytes::Bytes::new(),
        "token",
    )
    .await;
    e.check(
        "unknown gRPC method",
        matches!(&unknown, Err(s) if s.code() == tonic::Code::Unimplemented),
        || format!("{unknown:?}"),
    );
    let unknown =
        crate::grpc::raw_unary(channel.clone(), "/v1/items/x", bytes::Bytes::new(), "token").await;
    e.check(
        "a REST path over gRPC",
        matches!(&unknown, Err(s) if s.code() == tonic::Code::Unimplemented),
        || format!("{unknown:?}"),
    );
    // gRPC-Web too (HTTP/1.1): the status comes in the headers.
    let what = "unknown gRPC-Web method";
    let r = e
        .send(
            what,
            e.req(Method::POST, "/conformance.v1.Nope/Foo")
                .header("content-type", "application/grpc-web+proto")
                .body(vec![0u8; 5]),
        )
        .await;
    e.check(
        what,
        r.status == 200 && r.header("grpc-status") == Some("12") && r.text.is_empty(),
        || format!("{} {:?} {:?}", r.status, r.headers, r.text),
    );
    // `RouteProbe { id: "x" }`: field 1, length 1.
    let known = crate::grpc::raw_unary(
        channel,
        "/conformance.v1.RoutingService/GetItem",
        bytes::Bytes::from_static(b"\x0a\x01x"),
        "token",
    )
    .await;
    e.check(
        "a known gRPC method",
        matches!(&known, Ok(b) if b.as_ref() == b"\x0a\x01x"),
        || format!("{known:?}"),
    );
    e.finish();
}
