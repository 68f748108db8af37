//! Server streams over WebSocket: the GET binding of a server-streaming RPC
//! upgraded, against the real `dotlanth` binary (both modes) and the
//! conformance echo (`StreamService.Watch`, both modes).

use crate::harness::{DEV_TOKEN, Gateway, Mode, Server, ServerOpts, both_modes, within};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A node (and, in remote mode, a gateway in front of it) and the `ws://` base.
struct Setup {
    server: Server,
    _gateway: Option<Gateway>,
    base: String,
}

async fn setup(mode: Mode, opts: ServerOpts) -> Setup {
    let server = Server::start(opts.clone()).await;
    let (gateway, http) = match mode {
        Mode::InProcess => (None, server.http_url()),
        Mode::Remote => {
            let g = Gateway::start(&server, &opts).await;
            let url = g.http_url();
            (Some(g), url)
        }
    };
    Setup {
        server,
        _gateway: gateway,
        base: http.replacen("http://", "ws://", 1),
    }
}

/// An upgrade refused: its HTTP status and JSON body.
#[derive(Debug)]
struct Refused {
    status: u16,
    body: Value,
}

/// Opens `url` with extra request headers: the socket and the response's
/// `Sec-WebSocket-Protocol`, or the refusal.
async fn open(url: &str, headers: &[(&str, &str)]) -> Result<(Ws, Option<String>), Refused> {
    let mut req = url.into_client_request().expect("a ws:// request");
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match within(10, "the WebSocket handshake", connect_async(req)).await {
        Ok((ws, resp)) => {
            let protocol = resp
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_string());
            Ok((ws, protocol))
        }
        Err(WsError::Http(resp)) => Err(Refused {
            status: resp.status().as_u16(),
            body: resp
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null),
        }),
        Err(e) => panic!("the handshake failed: {e}"),
    }
}

async fn open_ok(url: &str, headers: &[(&str, &str)]) -> Ws {
    match open(url, headers).await {
        Ok((ws, _)) => ws,
        Err(r) => panic!("the upgrade was refused: {r:?}"),
    }
}

/// What arrives on a socket: text frames as JSON, then how it closed.
#[derive(Debug, PartialEq)]
enum Frame {
    Json(Value),
    Close(u16, String),
}

/// The next text frame or close (pings are skipped), within `secs`.
async fn next(ws: &mut Ws, secs: u64) -> Frame {
    loop {
        let m = within(secs, "the next WebSocket frame", ws.next()).await;
        match m {
            Some(Ok(Message::Text(t))) => {
                return Frame::Json(serde_json::from_str(&t).expect("a JSON text frame"));
            }
            Some(Ok(Message::Close(c))) => {
                return match c {
                    Some(c) => Frame::Close(c.code.into(), c.reason.to_string()),
                    None => Frame::Close(1005, String::new()),
                };
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Every frame up to and including the close (which must come within 30 s).
async fn drain(ws: &mut Ws, secs: u64) -> Vec<Frame> {
    let mut out = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < give_up,
            "no close after {} frames; the last: {:?}",
            out.len(),
            out.last()
        );
        let f = next(ws, secs).await;
        let closed = matches!(f, Frame::Close(..));
        out.push(f);
        if closed {
            return out;
        }
    }
}

fn block_height(v: &Value) -> u64 {
    let b = &v["block"];
    assert!(b.is_object(), "not a block event: {v}");
    b["height"].as_str().unwrap_or("0").parse().unwrap()
}

const BEARER: &str = "Bearer dev-insecure-token";

fn blocks_url(base: &str, query: &str) -> String {
    format!("{base}/api/v1/monitoring/events?filter.kinds=EVENT_KIND_BLOCK{query}")
}

both_modes!(block_commits_at_a_raised_rate);
both_modes!(resume_from_a_height_without_gaps_or_duplicates);
both_modes!(authentication_and_bad_requests);

/// At 100 ms blocks, at least five block commits arrive in five seconds, in
/// order, one JSON message per text frame.
async fn block_commits_at_a_raised_rate(mode: Mode) {
    let s = setup(mode, ServerOpts::default().block_interval_ms(100)).await;
    let mut ws = open_ok(&blocks_url(&s.base, ""), &[("authorization", BEARER)]).await;
    let start = Instant::now();
    let mut heights = Vec::new();
    while heights.len() < 5 {
        match next(&mut ws, 5).await {
            Frame::Json(v) => heights.push(block_height(&v)),
            other => panic!("the stream ended: {other:?}"),
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{heights:?} took {:?}",
        start.elapsed()
    );
    for w in heights.windows(2) {
        assert_eq!(w[1], w[0] + 1, "{heights:?}");
    }
    // The client closes: the server answers the close.
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
    .await
    .unwrap();
    let rest = drain(&mut ws, 5).await;
    assert!(
        matches!(rest.last(), Some(Frame::Close(1000, _))),
        "{rest:?}"
    );
    if mode == Mode::InProcess {
        let metrics = reqwest::get(format!("{}/metrics", s.server.http_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics
                .lines()
                .any(|l| l.contains("grpc_server_started_total")
                    && l.contains("surface=\"websocket\"")
                    && l.contains("StreamEvents")),
            "{metrics}"
        );
    }
}

/// A stream from `startHeight` replays the chain from there, then goes live:
/// every height once, in order; a second stream resumes right after the last
/// height the first one saw.
async fn resume_from_a_height_without_gaps_or_duplicates(mode: Mode) {
    let s = setup(mode, ServerOpts::default().block_interval_ms(50)).await;
    let mut first = open_ok(
        &blocks_url(&s.base, "&startHeight=0"),
        &[("authorization", BEARER)],
    )
    .await;
    let mut seen = Vec::new();
    while seen.len() < 10 {
        match next(&mut first, 5).await {
            Frame::Json(v) => seen.push(block_height(&v)),
            other => panic!("the stream ended: {other:?}"),
        }
    }
    assert_eq!(seen, (0..10).collect::<Vec<u64>>());
    drop(first);
    // Let the chain move on before resuming, so part of the resumed stream is a
    // replay from storage and part is live.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let resume = seen.last().unwrap() + 1;
    let mut second = open_ok(
        &blocks_url(&s.base, &format!("&startHeight={resume}")),
        &[("authorization", BEARER)],
    )
    .await;
    let mut more = Vec::new();
    while more.len() < 20 {
        match next(&mut second, 5).await {
            Frame::Json(v) => more.push(block_height(&v)),
            other => panic!("the stream ended: {other:?}"),
        }
    }
    assert_eq!(more, (resume..resume + 20).collect::<Vec<u64>>());
}

/// No token, a bad token, a bad query, a height beyond the chain: the upgrade
/// is refused with the REST error reply. A bearer token offered as a
/// subprotocol (browsers) authenticates; only the real subprotocol is echoed.
async fn authentication_and_bad_requests(mode: Mode) {
    let s = setup(mode, ServerOpts::default()).await;
    let url = blocks_url(&s.base, "");
    let refused = |r: Result<(Ws, Option<String>), Refused>| match r {
        Ok(_) => panic!("the upgrade was accepted"),
        Err(r) => (r.status, r.body),
    };
    let unauthenticated = json!({
        "code": 16,
        "message": "missing bearer token (send `authorization: Bearer <token>`)",
        "details": []
    });
    assert_eq!(refused(open(&url, &[]).await), (401, unauthenticated));
    let (status, body) = refused(open(&url, &[("authorization", "Bearer nope")]).await);
    assert_eq!((status, &body["code"]), (401, &json!(16)), "{body}");
    let (status, body) = refused(
        open(
            &url,
            &[(
                "sec-websocket-protocol",
                "dotlanth.json, dotlanth.bearer.nope",
            )],
        )
        .await,
    );
    assert_eq!((status, &body["code"]), (401, &json!(16)), "{body}");

    // The browser form.
    let (mut ws, protocol) = open(
        &url,
        &[(
            "sec-websocket-protocol",
            &format!("dotlanth.json, dotlanth.bearer.{DEV_TOKEN}"),
        )],
    )
    .await
    .expect("the bearer subprotocol authenticates");
    assert_eq!(protocol.as_deref(), Some("dotlanth.json"));
    assert!(matches!(next(&mut ws, 5).await, Frame::Json(v) if v["block"].is_object()));

    // Request fields come from the query as in REST: a bad value is a 400.
    let (status, body) = refused(
        open(
            &blocks_url(&s.base, "&startHeight=x"),
            &[("authorization", BEARER)],
        )
        .await,
    );
    assert_eq!(
        (status, body),
        (
            400,
            json!({"code": 3, "message": "query parameter `startHeight`: invalid digit found in string", "details": []})
        )
    );
    let (status, body) = refused(
        open(
            &blocks_url(&s.base, "&startHeight=99999"),
            &[("authorization", BEARER)],
        )
        .await,
    );
    assert_eq!((status, &body["code"]), (400, &json!(11)), "{body}");
}

/// The conformance echo's `StreamService.Watch` (`GET /v1/watch`): messages as
/// frames, a clean end closes with 1000, a failure after messages sends an
/// `{"error": Status}` frame and closes with the code's close code, a failure
/// before any message refuses the upgrade.
async fn echo_watch(mode: Mode) {
    use crate::conformance::{Echo, Opts};
    let e = Echo::start(mode, Opts::default()).await;
    let url = e
        .url("/v1/watch?stringValue=s&int64Value=3")
        .replacen("http://", "ws://", 1);
    let item = json!({"stringValue": "s", "int64Value": "3"});
    let status =
        |code: i32, message: &str| json!({"code": code, "message": message, "details": []});

    let mut ws = open_ok(&url, &[("x-echo-count", "3")]).await;
    assert_eq!(
        drain(&mut ws, 5).await,
        [
            Frame::Json(item.clone()),
            Frame::Json(item.clone()),
            Frame::Json(item.clone()),
            Frame::Close(1000, String::new()),
        ]
    );

    let mut ws = open_ok(&url, &[("x-echo-count", "0")]).await;
    assert_eq!(drain(&mut ws, 5).await, [Frame::Close(1000, String::new())]);

    for (name, code, close) in [
        ("ABORTED", 10, 4010),
        ("PERMISSION_DENIED", 7, 1008),
        ("UNAUTHENTICATED", 16, 1008),
        ("INTERNAL", 13, 1011),
        ("RESOURCE_EXHAUSTED", 8, 4008),
    ] {
        let mut ws = open_ok(&url, &[("x-echo-count", "1"), ("x-echo-error", name)]).await;
        let message = format!("echo: {name}");
        assert_eq!(
            drain(&mut ws, 5).await,
            [
                Frame::Json(item.clone()),
                Frame::Json(json!({"error": status(code, &message)})),
                Frame::Close(close, message.clone()),
            ],
            "{name}"
        );
    }

    // Before any message: the upgrade is refused with the REST error reply.
    let r = open(
        &url,
        &[("x-echo-count", "0"), ("x-echo-error", "NOT_FOUND")],
    )
    .await;
    let r = r.expect_err("refused");
    assert_eq!((r.status, r.body), (404, status(5, "echo: NOT_FOUND")));
    let r = open(
        &e.url("/v1/watch?int32Value=x")
            .replacen("http://", "ws://", 1),
        &[],
    )
    .await
    .expect_err("refused");
    assert_eq!(
        (r.status, r.body),
        (
            400,
            status(
                3,
                "query parameter `int32Value`: invalid digit found in string"
            )
        )
    );
}

both_modes!(echo_watch);

/// A socket whose client reads nothing stays tiny in the kernel: a small
/// receive buffer and a small announced segment size (so the server's send
/// buffer stays small too). Its sends back up within a few hundred frames.
async fn open_slow(url: &str, headers: &[(&str, &str)]) -> Ws {
    let mut req = url.into_client_request().expect("a ws:// request");
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let port = req.uri().port_u16().expect("a port");
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    socket.set_tcp_mss(536).unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    socket.connect(&addr.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let stream = tokio::net::TcpStream::from_std(socket.into()).unwrap();
    let (ws, _) = within(
        10,
        "the WebSocket handshake",
        tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream)),
    )
    .await
    .expect("the upgrade");
    ws
}

/// In process only: in remote mode the HTTP/2 flow-control windows between the
/// gateway and the node hold many more events before the node's buffer
/// overflows, so the same client lags far later.
#[tokio::test]
async fn a_slow_reader_lags_alone() {
    slow_reader_lags_alone(Mode::InProcess).await;
}

/// A client that stops reading backs up its own stream only: the VM's
/// per-subscriber buffer (`vm.event_buffer`, small here) overflows, and once it
/// reads again it gets the events it was sent, a RESOURCE_EXHAUSTED frame naming
/// the height to resume from, and a 4008 close. A fast client on the same node
/// meanwhile receives every block. Resuming from the named height continues
/// without a gap.
async fn slow_reader_lags_alone(mode: Mode) {
    let opts = ServerOpts::default()
        .block_interval_ms(5)
        .env("DOTLANTH__VM__EVENT_BUFFER", "256");
    let s = setup(mode, opts).await;
    let url = blocks_url(&s.base, "");
    let auth = [("authorization", BEARER)];
    let mut slow = open_slow(&url, &auth).await;
    let mut fast = open_ok(&url, &auth).await;
    // The slow client falls behind by as many events as the fast one gets: far
    // more than the kernel's socket buffers (a few hundred frames here) and the
    // VM's buffer hold.
    let mut fast_heights = Vec::new();
    while fast_heights.len() < 1200 {
        match next(&mut fast, 5).await {
            Frame::Json(v) => fast_heights.push(block_height(&v)),
            other => panic!("the fast stream ended: {other:?}"),
        }
    }
    for w in fast_heights.windows(2) {
        assert_eq!(w[1], w[0] + 1, "the fast client missed blocks");
    }
    drop(fast);

    let frames = drain(&mut slow, 10).await;
    let n = frames.len();
    assert!(n >= 3, "{frames:?}");
    let heights: Vec<u64> = frames[..n - 2]
        .iter()
        .map(|f| match f {
            Frame::Json(v) => block_height(v),
            other => panic!("{other:?}"),
        })
        .collect();
    for w in heights.windows(2) {
        assert_eq!(w[1], w[0] + 1, "the slow client's events have a gap");
    }
    let resume = heights.last().unwrap() + 1;
    let message =
        format!("subscriber lagged behind the event buffer; resubscribe from height {resume}");
    assert_eq!(
        frames[n - 2..],
        [
            Frame::Json(json!({"error": {
                "code": 8,
                "message": message,
                "details": [{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "LAGGED",
                    "domain": "dotlanth.monitoring.v1",
                    "metadata": {"resume_from": resume.to_string()}
                }]
            }})),
            Frame::Close(4008, message.clone()),
        ]
    );
    let mut again = open_ok(
        &blocks_url(&s.base, &format!("&startHeight={resume}")),
        &auth,
    )
    .await;
    match next(&mut again, 5).await {
        Frame::Json(v) => assert_eq!(block_height(&v), resume),
        other => panic!("{other:?}"),
    }
}

both_modes!(connection_limit_ping_and_idle_timeout);

/// `rest.websocket_max_connections = 1`: a second stream is refused with 429
/// while the first is open. Pings come every `websocket_ping_interval_ms`; a
/// client that reads (and so answers them) stays open, one that reads nothing
/// is closed with 1001 after `websocket_idle_timeout_ms`.
async fn connection_limit_ping_and_idle_timeout(mode: Mode) {
    let opts = ServerOpts::default()
        .env("DOTLANTH__REST__WEBSOCKET_MAX_CONNECTIONS", "1")
        .env("DOTLANTH__REST__WEBSOCKET_PING_INTERVAL_MS", "100")
        .env("DOTLANTH__REST__WEBSOCKET_IDLE_TIMEOUT_MS", "400");
    let s = setup(mode, opts).await;
    let url = blocks_url(&s.base, "");
    let auth = [("authorization", BEARER)];

    let mut ws = open_ok(&url, &auth).await;
    let r = open(&url, &auth).await.expect_err("over the limit");
    assert_eq!(
        (r.status, r.body),
        (
            429,
            json!({"code": 8, "message": "too many WebSocket streams are open", "details": []})
        )
    );
    // A reading client answers the pings: still open after several idle timeouts.
    let mut pings = 0;
    let stop = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < stop {
        match within(5, "a frame", ws.next()).await {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Text(_))) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings >= 5, "{pings} pings");
    // A client that stops reading is closed for idleness.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let frames = drain(&mut ws, 5).await;
    assert_eq!(
        frames.last(),
        Some(&Frame::Close(1001, "idle timeout".into()))
    );
    drop(ws);
    // Its slot is free again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match open(&url, &auth).await {
            Ok(_) => break,
            Err(r) if r.status == 429 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(r) => panic!("{r:?}"),
        }
    }
}

/// At the default block rate (one block a second, empty blocks too) a quiet
/// node still sends at least one event a second.
#[tokio::test]
async fn an_event_every_second_without_executions() {
    let s = setup(Mode::InProcess, ServerOpts::default()).await;
    let mut ws = open_ok(&blocks_url(&s.base, ""), &[("authorization", BEARER)]).await;
    let start = Instant::now();
    let mut heights = Vec::new();
    while start.elapsed() < Duration::from_millis(4500) {
        match next(&mut ws, 2).await {
            Frame::Json(v) => heights.push(block_height(&v)),
            other => panic!("the stream ended: {other:?}"),
        }
    }
    assert!(heights.len() >= 4, "{heights:?} in {:?}", start.elapsed());
}

/// A graceful shutdown ends open streams with UNAVAILABLE: an error frame and
/// a 4014 close, and the server exits promptly.
#[tokio::test]
async fn shutdown_closes_open_streams() {
    let mut s = setup(Mode::InProcess, ServerOpts::default()).await;
    let mut ws = open_ok(&blocks_url(&s.base, ""), &[("authorization", BEARER)]).await;
    assert!(matches!(next(&mut ws, 5).await, Frame::Json(_)));
    let (status, took) = s
        .server
        .stop_graceful(Duration::from_secs(15))
        .await
        .expect("the server exits");
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let frames = drain(&mut ws, 5).await;
    let n = frames.len();
    assert_eq!(
        frames[n - 2..],
        [
            Frame::Json(
                json!({"error": {"code": 14, "message": "the server is shutting down", "details": []}})
            ),
            Frame::Close(4014, "the server is shutting down".into()),
        ]
    );
}
