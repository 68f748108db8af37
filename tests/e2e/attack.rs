//! Hostile clients: malformed or oversized requests against the REST surface,
//! in both modes. Every answer is a `google.rpc.Status` JSON body with a client
//! error status, and the same in process and through a remote gateway.

use crate::conformance::{Echo, Opts};
use crate::harness::{Mode, both_modes, within};
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
