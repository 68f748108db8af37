//! The REST/JSON surface over the VM API, called like curl would: every route comes
//! from the protos' `google.api.http` bindings and goes through the same gate as
//! gRPC (auth, metrics, status codes).

use crate::grpc::{DEV_TOKEN, READER_TOKEN, example};
use crate::harness::{Gateway, Server, ServerOpts, within};
use crate::harness::{Mode, both_modes};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Rest {
    http: Client,
    base: String,
}

/// A node (and, in remote mode, a gateway in front of it).
struct Setup {
    server: Server,
    _gateway: Option<Gateway>,
    rest: Rest,
}

async fn setup(mode: Mode, opts: ServerOpts) -> Setup {
    let server = Server::start(opts.clone()).await;
    let (gateway, base) = match mode {
        Mode::InProcess => (None, server.http_url()),
        Mode::Remote => {
            let g = Gateway::start(&server, &opts).await;
            let base = g.http_url();
            (Some(g), base)
        }
    };
    Setup {
        server,
        _gateway: gateway,
        rest: Rest {
            http: Client::new(),
            base,
        },
    }
}

both_modes!(vm_api_over_rest);
both_modes!(rest_errors_are_status_json_with_the_mapped_http_status);
both_modes!(server_streams_as_ndjson_and_sse);
both_modes!(browsers_get_cors_on_the_rest_surface);
both_modes!(options_without_a_preflight_is_routed);
both_modes!(deadlines_content_types_and_strict_queries);

impl Rest {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = within(20, path, req.send()).await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text:?}"));
        (status, headers, value)
    }
}

/// Standard base64 with padding (bytes in proto3 JSON).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn counter_value(b64: &str) -> u64 {
    const ABC: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u64;
    let mut bytes = Vec::new();
    let mut n = 0;
    for c in b64.chars().filter(|c| *c != '=') {
        bits = (bits << 6) | ABC.find(c).expect("base64") as u64;
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
        }
    }
    bytes.resize(8, 0);
    u64::from_le_bytes(bytes[..8].try_into().unwrap())
}

async fn vm_api_over_rest(mode: Mode) {
    let Setup { server, rest, .. } = &setup(mode, ServerOpts::default()).await;
    let module = base64(&example("counter.wat"));

    let (s, _, v) = rest
        .call(
            Method::POST,
            "/api/v1/vm/dots/deploy",
            Some(DEV_TOKEN),
            Some(&json!({"name": "counter", "module": module})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["dot"]["name"], "counter");
    assert!(
        v["dot"]["moduleSize"].is_string(),
        "uint64 is a JSON string: {v}"
    );
    assert!(v["dot"]["deployedAt"].as_str().unwrap().ends_with('Z'));

    for expected in 1..=3u64 {
        // The dot's name comes from the path (custom verb `:execute`), the rest from the body.
        let (s, _, v) = rest
            .call(
                Method::POST,
                "/api/v1/vm/dots/counter:execute",
                Some(DEV_TOKEN),
                Some(&json!({"function": "increment"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(counter_value(v["output"].as_str().unwrap()), expected);
        assert_eq!(v["events"][0]["topic"], "incremented");
    }

    let (s, _, v) = rest
        .call(
            Method::GET,
            "/api/v1/vm/dots/counter",
            Some(READER_TOKEN),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["dot"]["executions"], "3");
    assert_eq!(v["state"][0]["key"], base64(b"count"));
    assert_eq!(counter_value(v["state"][0]["value"].as_str().unwrap()), 3);

    let (s, _, v) = rest
        .call(Method::GET, "/api/v1/monitoring/status", None, None)
        .await;
    assert_eq!(s, StatusCode::OK, "public method: {v}");
    assert_eq!(v["dots"], "1");
    assert_eq!(v["executions"], "3");

    // A path variable wins over the same field in the query.
    let (s, _, v) = rest
        .call(
            Method::GET,
            "/api/v1/monitoring/blocks/0?height=5",
            Some(READER_TOKEN),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["block"]["parentHash"], "0".repeat(64), "genesis: {v}");

    // REST calls are counted by the same metrics as gRPC calls, with their
    // surface; a remote gateway reaches the node over plain gRPC.
    let metrics = reqwest::get(format!("{}/metrics", server.http_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let surface = match mode {
        Mode::InProcess => "rest",
        Mode::Remote => "grpc",
    };
    let line = format!(
        r#"grpc_server_handled_total{{grpc_service="dotlanth.vm.v1.VmService",grpc_method="ExecuteDot",grpc_type="unary",surface="{surface}",grpc_code="OK"}} 3"#
    );
    assert!(metrics.contains(&line), "{line} in\n{metrics}");
}

async fn rest_errors_are_status_json_with_the_mapped_http_status(mode: Mode) {
    let opts = ServerOpts::default().env("DOTLANTH__SERVER__MAX_MESSAGE_BYTES", "65536");
    let Setup { rest, .. } = &setup(mode, opts).await;
    let check = |what: &str,
                 got: (StatusCode, reqwest::header::HeaderMap, Value),
                 status: u16,
                 code: i64| {
        let (s, _, v) = &got;
        assert_eq!(s.as_u16(), status, "{what}: {v}");
        assert_eq!(v["code"], code, "{what}: {v}");
        assert!(v["message"].is_string(), "{what}: {v}");
        got
    };

    let (_, h, _) = check(
        "no token",
        rest.call(Method::GET, "/api/v1/vm/dots/x", None, None)
            .await,
        401,
        16,
    );
    assert_eq!(h["www-authenticate"], "Bearer");
    check(
        "bad token",
        rest.call(Method::GET, "/api/v1/vm/dots/x", Some("nope"), None)
            .await,
        401,
        16,
    );
    check(
        "reader cannot deploy",
        rest.call(
            Method::POST,
            "/api/v1/vm/dots/deploy",
            Some(READER_TOKEN),
            Some(&json!({"name": "a", "module": "AA=="})),
        )
        .await,
        403,
        7,
    );
    check(
        "unknown dot",
        rest.call(Method::GET, "/api/v1/vm/dots/ghost", Some(DEV_TOKEN), None)
            .await,
        404,
        5,
    );
    check(
        "unknown path",
        rest.call(Method::GET, "/api/v1/nothing/here", None, None)
            .await,
        404,
        5,
    );
    let (_, h, _) = check(
        "wrong method",
        rest.call(Method::DELETE, "/api/v1/vm/dots/x", Some(DEV_TOKEN), None)
            .await,
        405,
        12,
    );
    assert_eq!(h["allow"], "GET");
    check(
        "bad module",
        rest.call(
            Method::POST,
            "/api/v1/vm/dots/deploy",
            Some(DEV_TOKEN),
            Some(&json!({"name": "b", "module": "bm90IHdhc20="})),
        )
        .await,
        400,
        3,
    );
    check(
        "malformed escape",
        rest.call(Method::GET, "/api/v1/vm/dots/a%zz", Some(DEV_TOKEN), None)
            .await,
        400,
        3,
    );
    check(
        "bad uint64 in path",
        rest.call(
            Method::GET,
            "/api/v1/monitoring/blocks/abc",
            Some(DEV_TOKEN),
            None,
        )
        .await,
        400,
        3,
    );
    check(
        "beyond the tip",
        rest.call(
            Method::GET,
            "/api/v1/monitoring/blocks/99999",
            Some(DEV_TOKEN),
            None,
        )
        .await,
        404,
        5,
    );
    check(
        "a query parameter twice (proto and JSON name)",
        rest.call(
            Method::GET,
            "/api/v1/monitoring/events?startHeight=0&start_height=1",
            Some(DEV_TOKEN),
            None,
        )
        .await,
        400,
        3,
    );

    // Raw bodies: malformed JSON, wrong content type, oversized.
    let url = format!("{}/api/v1/vm/dots/deploy", rest.base);
    let raw = |body: Vec<u8>, content_type: &'static str| {
        let http = rest.http.clone();
        let url = url.clone();
        async move {
            let r = http
                .post(&url)
                .bearer_auth(DEV_TOKEN)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.headers().clone(), r.json::<Value>().await.unwrap())
        }
    };
    check(
        "malformed JSON",
        raw(b"{\"name\":".to_vec(), "application/json").await,
        400,
        3,
    );
    check(
        "not JSON",
        raw(b"name=x".to_vec(), "application/x-www-form-urlencoded").await,
        415,
        3,
    );
    check(
        "too large",
        raw(vec![b' '; 70_000], "application/json").await,
        413,
        8,
    );

    // Execution failures keep their documented codes.
    let module = base64(&example("infinite_loop.wat"));
    let (s, _, _) = rest
        .call(
            Method::POST,
            "/api/v1/vm/dots/deploy",
            Some(DEV_TOKEN),
            Some(&json!({"name": "loop", "module": module})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    check(
        "out of fuel",
        rest.call(
            Method::POST,
            "/api/v1/vm/dots/loop:execute",
            Some(DEV_TOKEN),
            Some(&json!({"function": "run", "fuelLimit": "5000"})),
        )
        .await,
        429,
        8,
    );
}

async fn server_streams_as_ndjson_and_sse(mode: Mode) {
    let Setup { rest, .. } = &setup(mode, ServerOpts::default().block_interval_ms(200)).await;
    let url = format!(
        "{}/api/v1/monitoring/events?filter.kinds=EVENT_KIND_BLOCK&startHeight=0",
        rest.base
    );
    let http = Client::new();

    let mut resp = http.get(&url).bearer_auth(DEV_TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let mut text = String::new();
    while text.lines().count() < 3 {
        let chunk = within(5, "ndjson chunk", resp.chunk())
            .await
            .unwrap()
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let heights: Vec<u64> = text
        .lines()
        .take(3)
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("one JSON value per line");
            v["result"]["block"]["height"]
                .as_str()
                .unwrap_or("0")
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(heights, [0, 1, 2], "{text}");
    drop(resp);

    let mut resp = http
        .get(&url)
        .bearer_auth(DEV_TOKEN)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = within(5, "sse chunk", resp.chunk())
            .await
            .unwrap()
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("data: {\"block\":"), "{text}");

    // An error before the first message is an ordinary error reply.
    let resp = http
        .get(format!(
            "{}/api/v1/monitoring/events?startHeight=99999",
            rest.base
        ))
        .bearer_auth(DEV_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 11);
}

async fn browsers_get_cors_on_the_rest_surface(mode: Mode) {
    let Setup { rest, .. } = &setup(mode, ServerOpts::default()).await;
    let url = format!("{}/api/v1/vm/dots/counter", rest.base);
    let preflight = |origin: &'static str| {
        rest.http
            .request(Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let r = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{:?}", r.headers());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.split(',').any(|h| h.trim() == "authorization"),
        "{allowed}"
    );
    let r = preflight("http://evil.example").await.unwrap();
    assert!(
        r.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        r.headers()
    );
    // The actual call carries the origin header back too.
    let r = rest
        .http
        .get(&url)
        .header("origin", "http://localhost:3000")
        .bearer_auth(DEV_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
}

/// Only a CORS preflight (OPTIONS with `Access-Control-Request-Method`) is the
/// CORS layer's; any other OPTIONS request was answered with an empty 200 (no
/// `Allow`, not in the document) on every path, even unknown ones. It is routed
/// now: 405 with `Allow` and a `google.rpc.Status`, or 404.
async fn options_without_a_preflight_is_routed(mode: Mode) {
    let Setup { rest, .. } = &setup(mode, ServerOpts::default()).await;
    let (status, headers, body) = rest
        .call(
            Method::OPTIONS,
            "/api/v1/runtime/ping",
            Some(DEV_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        body,
        json!({ "code": 12, "message": "method OPTIONS is not allowed here", "details": [] })
    );
    let (status, headers, _) = rest
        .call(Method::OPTIONS, "/api/v1/vm/dots/counter", None, None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET");
    let (status, _, body) = rest.call(Method::OPTIONS, "/nothing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({ "code": 5, "message": "no route for OPTIONS /nothing", "details": [] })
    );
    // A browser's Origin alone does not make a preflight either.
    let r = rest
        .http
        .request(
            Method::OPTIONS,
            format!("{}/api/v1/runtime/ping", rest.base),
        )
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn deadlines_content_types_and_strict_queries(mode: Mode) {
    let opts = ServerOpts::default().env("DOTLANTH__REST__STRICT", "true");
    let Setup { rest, .. } = &setup(mode, opts).await;
    let status_of = |r: reqwest::Response| async move {
        let s = r.status().as_u16();
        (s, r.json::<Value>().await.unwrap())
    };
    // A body without a content type is refused (browsers send those cross-site
    // without a preflight).
    let r = rest
        .http
        .post(format!("{}/api/v1/runtime/ping", rest.base))
        .bearer_auth(DEV_TOKEN)
        .body(r#"{"payload":"x"}"#)
        .send()
        .await
        .unwrap();
    let (s, v) = status_of(r).await;
    assert_eq!((s, v["code"].as_i64()), (415, Some(3)), "{v}");
    // Strict mode: a `*` body route takes no query parameters.
    let r = rest
        .http
        .post(format!("{}/api/v1/runtime/ping?payload=q", rest.base))
        .bearer_auth(DEV_TOKEN)
        .json(&json!({"payload": "x"}))
        .send()
        .await
        .unwrap();
    let (s, v) = status_of(r).await;
    assert_eq!((s, v["code"].as_i64()), (400, Some(3)), "{v}");
    // Strict mode: unknown JSON fields are refused.
    let (s, _, v) = rest
        .call(
            Method::POST,
            "/api/v1/runtime/ping",
            Some(DEV_TOKEN),
            Some(&json!({"payload": "x", "nope": 1})),
        )
        .await;
    assert_eq!((s.as_u16(), v["code"].as_i64()), (400, Some(3)), "{v}");
    // `grpc-timeout` bounds the call: an endless loop with a big fuel budget
    // outlives 200 ms and the answer is DEADLINE_EXCEEDED (504).
    let module = base64(&example("infinite_loop.wat"));
    let (s, _, _) = rest
        .call(
            Method::POST,
            "/api/v1/vm/dots/deploy",
            Some(DEV_TOKEN),
            Some(&json!({"name": "loop", "module": module})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let started = std::time::Instant::now();
    let r = rest
        .http
        .post(format!("{}/api/v1/vm/dots/loop:execute", rest.base))
        .bearer_auth(DEV_TOKEN)
        .header("grpc-timeout", "200m")
        .json(&json!({"function": "run"}))
        .send()
        .await
        .unwrap();
    let (s, v) = status_of(r).await;
    assert_eq!((s, v["code"].as_i64()), (504, Some(4)), "{v}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
