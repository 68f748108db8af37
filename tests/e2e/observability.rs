//! Logs, trace context and metrics.

use crate::grpc::*;
use crate::harness::{Server, ServerOpts};
use dotlanth_api::dotlanth::monitoring::v1 as mon;
use dotlanth_api::dotlanth::runtime::v1::PingRequest;
use serde_json::Value;
use std::time::{Duration, Instant};
use tonic::{Code, Request};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn span_field<'a>(line: &'a Value, field: &str) -> Option<&'a str> {
    line.get("span")?.get(field)?.as_str()
}

/// The parsed `handled` line of a call of `method`, matching `pred`.
async fn handled_line(server: &Server, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let line = server
        .wait_for_log(
            Duration::from_secs(5),
            &format!("`handled` for {method}"),
            |l| {
                serde_json::from_str::<Value>(l).is_ok_and(|v| {
                    v["message"] == "handled"
                        && span_field(&v, "rpc.method") == Some(method)
                        && pred(&v)
                })
            },
        )
        .await;
    serde_json::from_str(&line).expect("JSON")
}

/// 9. JSON logs with W3C trace context; tokens never logged.
#[tokio::test]
async fn json_logs_with_trace_context() {
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;

    let mut traced = authed(
        PingRequest {
            payload: "traced".into(),
        },
        DEV_TOKEN,
    );
    traced.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01")
            .parse()
            .unwrap(),
    );
    c.runtime.ping(traced).await.expect("traced Ping");
    // Untraced: a public method, so that its `handled` line is easy to tell apart.
    c.monitoring
        .get_status(mon::GetStatusRequest {})
        .await
        .expect("GetStatus");
    // Failed authentications with secrets that must not be logged either.
    let secret = "very-secret-wrong-token-123";
    let r = c.runtime.ping(authed(PingRequest::default(), secret)).await;
    assert_eq!(code_of(&r), Code::Unauthenticated);

    let t = handled_line(&server, "Ping", |v| {
        span_field(v, "trace_id") == Some(TRACE_ID)
    })
    .await;
    let span_id = span_field(&t, "span_id").unwrap_or_default();
    assert!(is_hex(span_id, 16), "span_id {span_id:?} in {t}");
    assert_ne!(
        span_id, PARENT_SPAN_ID,
        "the server reused the caller's span id: {t}"
    );
    assert_eq!(
        span_field(&t, "parent_span_id"),
        Some(PARENT_SPAN_ID),
        "{t}"
    );
    assert_eq!(t["grpc_code"], "OK", "{t}");
    assert_eq!(t["caller"], "dev", "{t}");
    assert_eq!(t["surface"], "grpc", "{t}");

    let u = handled_line(&server, "GetStatus", |_| true).await;
    let trace_id = span_field(&u, "trace_id").unwrap_or_default();
    assert!(is_hex(trace_id, 32), "trace_id {trace_id:?} in {u}");
    assert_ne!(
        trace_id, TRACE_ID,
        "an untraced call continued another trace: {u}"
    );
    assert!(
        trace_id.bytes().any(|b| b != b'0'),
        "all-zero trace id: {u}"
    );
    assert!(
        is_hex(span_field(&u, "span_id").unwrap_or_default(), 16),
        "{u}"
    );
    assert_eq!(span_field(&u, "parent_span_id"), Some(""), "{u}");
    handled_line(&server, "Ping", |v| v["grpc_code"] == "UNAUTHENTICATED").await;

    let logs = server.logs();
    assert!(!logs.trim().is_empty(), "empty log");
    for (i, line) in logs.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line {} is not JSON ({e}): {line}", i + 1));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "log line {} lacks timestamp/level: {line}",
            i + 1
        );
    }
    assert!(
        !logs.contains(DEV_TOKEN),
        "the dev token appears in the log:\n{logs}"
    );
    assert!(
        !logs.contains(secret),
        "a presented token appears in the log:\n{logs}"
    );
    let warned = logs.lines().any(|l| {
        serde_json::from_str::<Value>(l).is_ok_and(|v| {
            v["level"] == "WARN"
                && v["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("development token"))
        })
    });
    assert!(warned, "no WARN about the development token:\n{logs}");
}

/// Fetches `/metrics` until `ready` holds for it (counts are recorded as the
/// trailers go out) or 5 s pass.
async fn metrics_when(server: &Server, ready: impl Fn(&str) -> bool) -> String {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = http
            .get(format!("{}/metrics", server.http_url()))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body");
        if ready(&text) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// 10. go-grpc-prometheus metrics with exact counts.
#[tokio::test]
async fn metrics_count_calls() {
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    const OK_PINGS: usize = 3;
    for i in 0..OK_PINGS {
        c.runtime
            .ping(authed(
                PingRequest {
                    payload: i.to_string(),
                },
                DEV_TOKEN,
            ))
            .await
            .expect("Ping");
    }
    let r = c.runtime.ping(Request::new(PingRequest::default())).await;
    assert_eq!(code_of(&r), Code::Unauthenticated);
    let r = c.vm.get_dot(authed(Default::default(), READER_TOKEN)).await;
    assert_eq!(code_of(&r), Code::InvalidArgument);

    let base = r#"grpc_service="dotlanth.runtime.v1.RuntimeService",grpc_method="Ping",grpc_type="unary",surface="grpc""#;
    let ok = format!("grpc_server_handled_total{{{base},grpc_code=\"OK\"}}");
    let unauth = format!("grpc_server_handled_total{{{base},grpc_code=\"UNAUTHENTICATED\"}}");
    let started = format!("grpc_server_started_total{{{base}}}");
    let count = format!("grpc_server_handling_seconds_count{{{base}}}");
    let get_dot = r#"grpc_server_handled_total{grpc_service="dotlanth.vm.v1.VmService",grpc_method="GetDot",grpc_type="unary",surface="grpc",grpc_code="INVALID_ARGUMENT"}"#;

    // The counts are recorded as the response trailers go out; allow a moment.
    let text = metrics_when(&server, |text| {
        metric_value(text, &count) == Some((OK_PINGS + 1) as f64)
    })
    .await;
    assert_eq!(
        metric_value(&text, &ok),
        Some(OK_PINGS as f64),
        "{ok} in\n{text}"
    );
    assert_eq!(
        metric_value(&text, &unauth),
        Some(1.0),
        "{unauth} in\n{text}"
    );
    assert_eq!(
        metric_value(&text, &started),
        Some((OK_PINGS + 1) as f64),
        "{started} in\n{text}"
    );
    assert_eq!(
        metric_value(&text, &count),
        Some((OK_PINGS + 1) as f64),
        "{count} in\n{text}"
    );
    assert_eq!(
        metric_value(&text, get_dot),
        Some(1.0),
        "{get_dot} in\n{text}"
    );
    // Label order is free in the exposition format (this encoder puts `le` first).
    let inf_bucket = text.lines().find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let labels = series
            .strip_prefix("grpc_server_handling_seconds_bucket{")?
            .strip_suffix('}')?;
        let mut labels: Vec<&str> = labels.split(',').collect();
        labels.sort();
        let mut want: Vec<&str> = base.split(',').chain(["le=\"+Inf\""]).collect();
        want.sort();
        (labels == want).then(|| value.parse::<f64>().ok())?
    });
    assert_eq!(
        inf_bucket,
        Some((OK_PINGS + 1) as f64),
        "Ping's +Inf bucket in\n{text}"
    );
}

/// Paths that are not exactly a known method are refused before any service
/// code, and callers cannot invent metric series with them.
#[tokio::test]
async fn unknown_paths_are_unimplemented_and_unobserved() {
    let server = Server::start(ServerOpts::default()).await;
    let c = Clients::connect(&server).await;
    for path in [
        "/dotlanth.vm.v1.VmService/Deploy%44ot",
        "/dotlanth.vm.v1.VmService/DeployDot/",
        "//dotlanth.vm.v1.VmService/DeployDot",
        "/dotlanth.vm.v1.VmService/NoSuchMethod",
        "/grpc.health.v1.Health/InventedMethod",
        "/grpc.reflection.v1.ServerReflection/Invented",
    ] {
        let r = raw_unary(c.channel.clone(), path, bytes::Bytes::new(), DEV_TOKEN).await;
        assert_eq!(code_of(&r), Code::Unimplemented, "{path}: {r:?}");
    }
    let metrics = reqwest::get(format!("{}/metrics", server.http_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for invented in [
        "Deploy%44ot",
        "NoSuchMethod",
        "InventedMethod",
        "Invented\"",
    ] {
        assert!(
            !metrics.contains(invented),
            "{invented} became a metric label:\n{metrics}"
        );
    }
}

/// A gRPC-Web (binary) unary call of `path` with `message`, over HTTP/1.1 as a
/// browser would make it; returns the HTTP status and the body.
async fn grpc_web_call(base: &str, path: &str, message: &[u8]) -> (u16, Vec<u8>) {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .bearer_auth(crate::grpc::DEV_TOKEN)
        .body(frame)
        .send()
        .await
        .expect("gRPC-Web call");
    let status = r.status().as_u16();
    (status, r.bytes().await.expect("body").to_vec())
}

/// The `surface` label and log field tell gRPC, gRPC-Web (on both ports) and
/// in-process REST calls apart.
#[tokio::test]
async fn calls_are_counted_and_logged_by_surface() {
    use prost::Message;
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    c.runtime
        .ping(authed(PingRequest::default(), DEV_TOKEN))
        .await
        .expect("gRPC Ping");
    let ping = PingRequest {
        payload: "web".into(),
    }
    .encode_to_vec();
    for base in [server.grpc_url(), server.http_url()] {
        let (status, body) =
            grpc_web_call(&base, "/dotlanth.runtime.v1.RuntimeService/Ping", &ping).await;
        assert_eq!(status, 200, "{base}: {body:?}");
        // A data frame, then the trailers frame with grpc-status 0.
        let trailers = String::from_utf8_lossy(&body);
        assert!(
            body.first() == Some(&0) && trailers.contains("grpc-status:0"),
            "{base}: {trailers:?}"
        );
    }
    for _ in 0..3 {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/runtime/ping", server.http_url()))
            .bearer_auth(DEV_TOKEN)
            .json(&serde_json::json!({"payload": "rest"}))
            .send()
            .await
            .expect("REST Ping");
        assert_eq!(r.status(), 200);
    }
    // A REST call refused by the gate is counted on its surface too.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/runtime/ping", server.http_url()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("REST Ping without a token");
    assert_eq!(r.status(), 401);

    let series = |metric: &str, surface: &str, code: Option<&str>| {
        let code = code
            .map(|c| format!(",grpc_code=\"{c}\""))
            .unwrap_or_default();
        format!(
            "{metric}{{grpc_service=\"dotlanth.runtime.v1.RuntimeService\",grpc_method=\"Ping\",grpc_type=\"unary\",surface=\"{surface}\"{code}}}"
        )
    };
    let text = metrics_when(&server, |text| {
        metric_value(
            text,
            &series("grpc_server_handling_seconds_count", "rest", None),
        ) == Some(4.0)
            && metric_value(
                text,
                &series("grpc_server_handling_seconds_count", "grpc_web", None),
            ) == Some(2.0)
    })
    .await;
    for (surface, started, ok) in [
        ("grpc", 1.0, 1.0),
        ("grpc_web", 2.0, 2.0),
        ("rest", 4.0, 3.0),
    ] {
        let s = series("grpc_server_started_total", surface, None);
        assert_eq!(metric_value(&text, &s), Some(started), "{s} in\n{text}");
        let h = series("grpc_server_handled_total", surface, Some("OK"));
        assert_eq!(metric_value(&text, &h), Some(ok), "{h} in\n{text}");
    }
    let refused = series("grpc_server_handled_total", "rest", Some("UNAUTHENTICATED"));
    assert_eq!(
        metric_value(&text, &refused),
        Some(1.0),
        "{refused} in\n{text}"
    );

    for surface in ["grpc", "grpc_web", "rest"] {
        handled_line(&server, "Ping", |v| {
            v["surface"] == surface && v["grpc_code"] == "OK"
        })
        .await;
    }
}
