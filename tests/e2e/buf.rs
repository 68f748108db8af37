//! A client we did not write: `buf curl`, over gRPC (with reflection) and gRPC-Web.
//! Plus a browser-style CORS preflight.

use crate::grpc::DEV_TOKEN;
use crate::harness::{Server, ServerOpts, within, workspace};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

/// The buf binary: `$DOTLANTH_BUF`, else the one `cargo xtask test` installs under
/// tools/. Missing buf fails the test: it must never pass silently.
fn buf() -> PathBuf {
    let path = match std::env::var_os("DOTLANTH_BUF") {
        Some(p) => PathBuf::from(p),
        None => workspace().join("tools/node_modules/.bin/buf"),
    };
    assert!(
        path.is_file(),
        "buf not found at {}: run `cargo xtask test` (it installs buf under tools/), or set DOTLANTH_BUF",
        path.display()
    );
    path
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "buf output is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "success={} stdout:\n{}\nstderr:\n{}",
            self.ok, self.stdout, self.stderr
        )
    }
}

async fn buf_curl(args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(buf());
    cmd.arg("curl").args(args).kill_on_drop(true);
    let out: Output = within(60, &format!("buf curl {args:?}"), cmd.output())
        .await
        .unwrap_or_else(|e| panic!("running buf: {e}"));
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const GRPC: [&str; 3] = ["--protocol", "grpc", "--http2-prior-knowledge"];
const AUTH: &str = "authorization: Bearer dev-insecure-token";

/// 11. Reflection, a call, health and an unauthenticated call with buf curl over gRPC.
#[tokio::test]
async fn buf_curl_grpc_with_reflection() {
    let server = Server::start(ServerOpts::default()).await;
    let base = server.grpc_url();
    let url = |m: &str| format!("{base}/{m}");

    let list = buf_curl(&[&GRPC[..], &["--list-methods", base.as_str()]].concat()).await;
    assert!(list.ok, "--list-methods failed: {list}");
    let methods: Vec<&str> = list.stdout.lines().map(str::trim).collect();
    for m in [
        "dotlanth.runtime.v1.RuntimeService/Ping",
        "dotlanth.vm.v1.VmService/DeployDot",
        "dotlanth.vm.v1.VmService/ExecuteDot",
        "dotlanth.vm.v1.VmService/GetDot",
        "dotlanth.monitoring.v1.MonitoringService/GetStatus",
        "dotlanth.monitoring.v1.MonitoringService/GetBlock",
        "dotlanth.monitoring.v1.MonitoringService/StreamEvents",
    ] {
        assert!(methods.contains(&m), "{m} is not listed: {methods:?}");
    }
    let ours = methods
        .iter()
        .filter(|m| m.starts_with("dotlanth."))
        .count();
    assert_eq!(ours, 7, "{methods:?}");

    let ping = url("dotlanth.runtime.v1.RuntimeService/Ping");
    let run =
        buf_curl(&[&GRPC[..], &["-H", AUTH, "-d", r#"{"payload":"x"}"#, &ping]].concat()).await;
    assert!(run.ok, "Ping failed: {run}");
    let v = run.json();
    assert_eq!(v["payload"], "x", "{v}");
    let time = v["serverTime"]
        .as_str()
        .unwrap_or_else(|| panic!("no serverTime: {v}"));
    assert!(
        time.ends_with('Z') && time.contains('T'),
        "serverTime {time:?}"
    );
    assert!(!v["version"].as_str().unwrap_or_default().is_empty(), "{v}");

    let health = url("grpc.health.v1.Health/Check");
    let run = buf_curl(&[&GRPC[..], &["-d", "{}", &health]].concat()).await;
    assert!(run.ok, "health check failed: {run}");
    assert_eq!(run.json()["status"], "SERVING", "{run}");
    let run = buf_curl(
        &[
            &GRPC[..],
            &["-d", r#"{"service":"dotlanth.vm.v1.VmService"}"#, &health],
        ]
        .concat(),
    )
    .await;
    assert!(run.ok, "health check of VmService failed: {run}");
    assert_eq!(run.json()["status"], "SERVING", "{run}");

    let run = buf_curl(&[&GRPC[..], &["-d", r#"{"payload":"x"}"#, &ping]].concat()).await;
    assert!(!run.ok, "Ping without a token succeeded: {run}");
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("unauthenticated"),
        "no `unauthenticated` in the output: {run}"
    );
}

/// 12. gRPC-Web over HTTP/1.1 with buf curl, and a CORS preflight.
#[tokio::test]
async fn grpc_web_and_cors() {
    let server = Server::start(ServerOpts::default()).await;
    let base = server.grpc_url();
    let web = ["--protocol", "grpcweb"];

    let status = format!("{base}/dotlanth.monitoring.v1.MonitoringService/GetStatus");
    let run = buf_curl(&[&web[..], &["-d", "{}", &status]].concat()).await;
    assert!(run.ok, "GetStatus over gRPC-Web failed: {run}");
    let v = run.json();
    assert!(
        v["startedAt"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{v}"
    );

    let ping = format!("{base}/dotlanth.runtime.v1.RuntimeService/Ping");
    let run =
        buf_curl(&[&web[..], &["-H", AUTH, "-d", r#"{"payload":"web"}"#, &ping]].concat()).await;
    assert!(run.ok, "Ping over gRPC-Web failed: {run}");
    assert_eq!(run.json()["payload"], "web", "{run}");

    let run = buf_curl(&[&web[..], &["-d", r#"{"payload":"web"}"#, &ping]].concat()).await;
    assert!(
        !run.ok,
        "Ping over gRPC-Web without a token succeeded: {run}"
    );
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("unauthenticated"),
        "{run}"
    );

    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, &ping)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,x-grpc-web",
            )
            .send()
    };
    let r = preflight("http://localhost:3000").await.expect("preflight");
    assert!(r.status().is_success(), "preflight status {}", r.status());
    let allow = |r: &reqwest::Response, h: &str| {
        r.headers()
            .get(h)
            .map(|v| v.to_str().unwrap_or_default().to_string())
    };
    assert_eq!(
        allow(&r, "access-control-allow-origin").as_deref(),
        Some("http://localhost:3000"),
        "{:?}",
        r.headers()
    );
    assert!(
        allow(&r, "access-control-allow-methods").is_some_and(|m| m.contains("POST")),
        "{:?}",
        r.headers()
    );
    // Browsers never read `*` as covering `authorization`: it must be listed.
    let allowed = allow(&r, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for h in ["authorization", "content-type", "x-grpc-web"] {
        assert!(
            allowed.split(',').any(|a| a.trim() == h),
            "{h} not in allow-headers {allowed:?}"
        );
    }
    let r = preflight("http://evil.example")
        .await
        .expect("preflight from another origin");
    assert_eq!(
        allow(&r, "access-control-allow-origin"),
        None,
        "a foreign origin was allowed: {:?}",
        r.headers()
    );

    // The dev token only ever appears on the wire, never in the log.
    assert!(!server.logs().contains(DEV_TOKEN));
}
