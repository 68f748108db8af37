//! Process lifecycle: crash recovery, graceful shutdown, the HTTP port.

use crate::grpc::*;
use crate::harness::{Server, ServerOpts, within};
use dotlanth_api::dotlanth::monitoring::v1 as mon;
use dotlanth_api::dotlanth::runtime::v1::PingRequest;
use std::time::Duration;
use tonic::Code;

/// 8. Acknowledged deploys and executions survive `kill -9`.
#[tokio::test]
async fn acknowledged_writes_survive_kill9() {
    let data = tempfile::Builder::new()
        .prefix("dotlanth-e2e-data-")
        .tempdir()
        .expect("tempdir");
    let opts = ServerOpts::default()
        .data_dir(data.path())
        .block_interval_ms(200);

    let mut first = Server::start(opts.clone()).await;
    let mut c = Clients::connect(&first).await;
    c.deploy("counter", example("counter.wat")).await;
    let mut last_id = 0;
    for _ in 0..3 {
        last_id = c
            .execute("counter", "increment")
            .await
            .expect("increment")
            .execution_id;
    }
    // Let a block or two commit, then crash right after one more acknowledged write.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let ex = c
        .execute("counter", "increment")
        .await
        .expect("increment #4");
    assert_eq!(le_u64(&ex.output), 4);
    let height = c
        .monitoring
        .get_status(mon::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .height;
    drop(c);
    first.kill9();

    let second = Server::start(opts).await;
    assert_eq!(second.data_dir(), data.path());
    let mut c = Clients::connect(&second).await;
    let got = within(10, "GetDot after restart", c.get_dot("counter"))
        .await
        .unwrap_or_else(|s| panic!("the dot is gone after kill -9: {s:?}\n{}", second.logs()));
    assert_eq!(
        le_u64(state_value(&got, b"count").expect("`count` after restart")),
        4
    );
    assert_eq!(got.dot.expect("dot").executions, 4);
    let status = c
        .monitoring
        .get_status(mon::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        status.height >= height,
        "height went back from {height} to {}",
        status.height
    );
    assert_eq!(status.dots, 1);
    assert_eq!(status.executions, 4, "{status:?}");
    // Execution ids keep increasing after the restart.
    let ex5 = c
        .execute("counter", "increment")
        .await
        .expect("increment after restart");
    assert_eq!(le_u64(&ex5.output), 5);
    assert!(ex5.execution_id > ex.execution_id && ex.execution_id > last_id);
    // Every acknowledged execution is in some block (the unsealed ones once the next block commits).
    let req = mon::StreamEventsRequest {
        start_height: Some(0),
        filter: Some(mon::EventFilter {
            kinds: vec![mon::EventKind::Block as i32],
            dots: vec![],
        }),
    };
    let mut stream = c
        .monitoring
        .stream_events(authed(req, DEV_TOKEN))
        .await
        .unwrap()
        .into_inner();
    let mut executed = Vec::new();
    while executed.len() < 5 {
        let m = within(10, "replayed blocks", stream.message())
            .await
            .expect("stream")
            .expect("stream ended");
        if let Some(mon::stream_events_response::Event::Block(b)) = m.event {
            executed.extend(b.executions.iter().map(|e| e.id));
        }
    }
    let mut sorted = executed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted, executed,
        "executions recorded twice or out of order: {executed:?}"
    );
}

/// 13. SIGTERM stops the server cleanly.
#[tokio::test]
async fn sigterm_is_graceful() {
    let mut server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    c.runtime
        .ping(authed(
            PingRequest {
                payload: "bye".into(),
            },
            DEV_TOKEN,
        ))
        .await
        .expect("Ping");
    // A subscriber is connected while the server stops.
    let mut stream = c
        .monitoring
        .stream_events(authed(mon::StreamEventsRequest::default(), DEV_TOKEN))
        .await
        .expect("StreamEvents")
        .into_inner();
    let Some((status, took)) = server.stop_graceful(Duration::from_secs(10)).await else {
        panic!(
            "the server did not exit within 10 s of SIGTERM; its log:\n{}",
            server.logs()
        );
    };
    let logs = server.logs();
    assert!(
        status.success(),
        "exit status {status} after SIGTERM; log:\n{logs}"
    );
    assert!(
        logs.lines().any(|l| l.contains("\"stopped\"")),
        "no `stopped` log line after SIGTERM; log:\n{logs}"
    );
    eprintln!("graceful shutdown took {took:?}");
    // The open subscription did not hold the shutdown for the whole grace period...
    assert!(
        !logs.contains("did not finish within the grace period"),
        "the shutdown waited out its grace period ({took:?}); log:\n{logs}"
    );
    // ... and its client was told why the stream ended, instead of seeing a broken pipe.
    let ended = within(5, "the stream to end after shutdown", async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                other => break other,
            }
        }
    })
    .await;
    match ended {
        Err(s) => assert_eq!(s.code(), Code::Unavailable, "the stream ended with {s:?}"),
        Ok(_) => panic!("the stream ended without a status"),
    }
}

/// 14. The HTTP port: health, readiness, JSON 404.
#[tokio::test]
async fn http_health_and_404() {
    let server = Server::start(ServerOpts::default()).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.http_url())).send();

    let r = get("/healthz").await.expect("GET /healthz");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("JSON")["status"],
        "ok"
    );
    let r = get("/readyz").await.expect("GET /readyz");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("JSON")["status"],
        "ready"
    );

    let r = get("/no/such/path").await.expect("GET unknown path");
    assert_eq!(r.status(), 404);
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(ct.as_deref(), Some("application/json"));
    let body: serde_json::Value = r.json().await.expect("a JSON 404 body");
    assert_eq!(body["code"], 5, "{body}");
    assert!(body["message"].is_string(), "{body}");
}
