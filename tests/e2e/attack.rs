//! Hostile clients: malformed or oversized requests against the REST surface,
//! in both modes. Every answer is a `google.rpc.Status` JSON body with a client
//! error status, and the same in process and through a remote gateway.

use crate::conformance::{Echo, Opts};
use crate::harness::{DEV_TOKEN, Gateway, Mode, Server, ServerOpts, both_modes, within};
use serde_json::{Value, json};

/// `GET path` with `headers`: the status and the JSON body.
async fn get(e: &Echo, path: &str, headers: &[(&str, String)]) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(e.url(path));
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let resp = within(20, path, req.send())
        .await
        .unwrap_or_else(|err| panic!("GET {path}: {err}"));
    let status = resp.status().as_u16();
    let text = within(20, path, resp.text())
        .await
        .unwrap_or_else(|err| panic!("GET {path}: reading the body: {err}"));
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("GET {path}: not JSON ({status}): {text}"));
    (status, body)
}

both_modes!(oversized_call_metadata_is_a_client_error);

/// Metadata larger than a gRPC backend accepts (its HTTP/2 header list limit,
/// 16 KiB) is refused with 431, the same in both modes; through a remote gateway
/// it used to come back as a 500 "the call ended without a status".
async fn oversized_call_metadata_is_a_client_error(mode: Mode) {
    let e = Echo::start(mode, Opts::default()).await;
    let expected = json!({
        "code": 3,
        "message": "the call's metadata is over 15360 bytes (request headers too large)",
        "details": [],
    });
    let big = "x".repeat(20_000);
    for (path, header) in [
        ("/v1/items/1", "grpc-metadata-big"),
        ("/v1/watch", "grpc-metadata-big"),
        ("/v1/items/1", "authorization"),
    ] {
        let value = if header == "authorization" {
            format!("Bearer {big}")
        } else {
            big.clone()
        };
        let got = get(&e, path, &[(header, value)]).await;
        assert_eq!(got, (431, expected.clone()), "{mode:?} GET {path} {header}");
    }
    // Just under the limit still goes through.
    let ok = get(
        &e,
        "/v1/items/1",
        &[("grpc-metadata-big", "x".repeat(8_000))],
    )
    .await;
    assert_eq!(ok, (200, json!({"id": "1"})), "{mode:?}");
}

/// A gRPC-Web-text body that is not base64, on the HTTP port: a gRPC-Web error
/// reply (the gRPC-Web content type and a `grpc-status`) in both modes; through
/// a remote gateway it was a plain gRPC reply (`application/grpc`), which a
/// gRPC-Web client cannot read.
#[tokio::test]
async fn grpc_web_text_that_is_not_base64_is_a_grpc_web_error_in_both_modes() {
    let server = Server::start(ServerOpts::default()).await;
    let gateway = Gateway::start(&server, &ServerOpts::default()).await;
    let mut replies = Vec::new();
    for base in [server.http_url(), gateway.http_url()] {
        let resp = within(
            20,
            "gRPC-Web-text call",
            reqwest::Client::new()
                .post(format!("{base}/dotlanth.runtime.v1.RuntimeService/Ping"))
                .header("authorization", format!("Bearer {DEV_TOKEN}"))
                .header("content-type", "application/grpc-web-text")
                .body("!!!!")
                .send(),
        )
        .await
        .expect("the call");
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .map(|v| v.to_str().expect("ASCII").to_string())
        };
        replies.push((
            resp.status().as_u16(),
            header("content-type"),
            header("grpc-status"),
            header("grpc-message"),
        ));
    }
    assert_eq!(
        replies[0],
        (
            200,
            Some("application/grpc-web+proto".to_string()),
            Some("13".to_string()),
            Some("tonic-web:%20Invalid%20symbol%2033,%20offset%200.".to_string()),
        ),
        "in process"
    );
    // Remote, the failed request body resets the HTTP/2 stream to the node, so
    // its status (13, the gRPC-Web layer's message) is not recovered; what a
    // gRPC-Web client needs is a gRPC-Web reply with a status.
    let (status, content_type, code, _) = &replies[1];
    assert_eq!(
        (*status, content_type.as_deref()),
        (200, Some("application/grpc-web+proto")),
        "remote"
    );
    assert!(code.is_some(), "remote: no grpc-status");
}

both_modes!(a_declared_body_over_the_limit_is_refused_before_it_is_sent);

/// `Content-Length` over the body limit with `Expect: 100-continue` (no body
/// sent): 413 at once. The server used to answer `100 Continue`, inviting the
/// client to upload the whole body only to refuse it.
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent(mode: Mode) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let e = Echo::start(mode, Opts::default()).await;
    let addr = e
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    conn.write_all(
        b"POST /v1/star/x HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 99999999\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n",
    )
    .await
    .expect("send the head");
    let mut reply = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut reply),
    )
    .await;
    let reply = String::from_utf8_lossy(&reply).to_string();
    assert!(
        read.is_ok(),
        "{mode:?}: no answer within 10 s; got {reply:?}"
    );
    let (head, body) = reply.split_once("\r\n\r\n").expect("a full reply");
    assert!(
        head.starts_with("HTTP/1.1 413 "),
        "{mode:?}: {head}\r\n\r\n{body}"
    );
    let body: Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(
        body,
        json!({"code": 8, "message": "request body over 65536 bytes", "details": []}),
        "{mode:?}"
    );
}

/// A wrong method on the built-in paths (`/metrics`, `/readyz`,
/// `/openapi.json`, `/docs`) is a 405 with a `google.rpc.Status` body and its
/// `Allow`, like the REST routes' (it was an empty body), on a node and on a
/// gateway.
#[tokio::test]
async fn a_wrong_method_on_a_built_in_path_is_status_json() {
    let server = Server::start(ServerOpts::default()).await;
    let gateway = Gateway::start(&server, &ServerOpts::default()).await;
    for base in [server.http_url(), gateway.http_url()] {
        for path in ["/metrics", "/readyz", "/openapi.json", "/docs"] {
            let resp = within(
                20,
                path,
                reqwest::Client::new().post(format!("{base}{path}")).send(),
            )
            .await
            .expect("the call");
            let status = resp.status().as_u16();
            let allow = resp
                .headers()
                .get("allow")
                .map(|v| v.to_str().expect("ASCII").to_string());
            let text = resp.text().await.expect("the body");
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("POST {base}{path}: not JSON ({status}): {text:?}"));
            assert_eq!(
                (status, allow.as_deref(), body),
                (
                    405,
                    Some("GET,HEAD"),
                    json!({"code": 12, "message": "method POST is not allowed here", "details": []})
                ),
                "POST {base}{path}"
            );
        }
    }
}
