//! Executions and the event stream.

use crate::grpc::*;
use crate::harness::{Server, ServerOpts, within};
use dotlanth_api::dotlanth::monitoring::v1 as mon;
use mon::stream_events_response::Event;
use std::time::{Duration, Instant};
use tonic::Streaming;

async fn subscribe(
    c: &mut Clients,
    req: mon::StreamEventsRequest,
) -> Streaming<mon::StreamEventsResponse> {
    within(
        10,
        "StreamEvents",
        c.monitoring.stream_events(authed(req, DEV_TOKEN)),
    )
    .await
    .expect("StreamEvents")
    .into_inner()
}

/// The next event, within `secs` seconds.
async fn next_event(stream: &mut Streaming<mon::StreamEventsResponse>, secs: u64) -> Event {
    within(secs, "the next stream event", stream.message())
        .await
        .expect("stream failed")
        .expect("stream ended")
        .event
        .expect("StreamEventsResponse.event is set")
}

/// 2. Deploy the counter, increment it three times: outputs, state and events.
#[tokio::test]
async fn counter_outputs_state_and_events() {
    let server = Server::start(ServerOpts::default()).await;
    let mut c = Clients::connect(&server).await;
    let wat = example("counter.wat");
    let dot = c.deploy("counter", wat.clone()).await;
    assert_eq!(dot.name, "counter");
    assert_eq!(dot.module_size, wat.len() as u64);
    assert_eq!(
        dot.module_hash.len(),
        64,
        "module_hash {:?}",
        dot.module_hash
    );
    let mut exports: Vec<&str> = dot.exports.iter().map(|f| f.name.as_str()).collect();
    exports.sort();
    assert_eq!(exports, ["get", "increment"], "{:?}", dot.exports);

    let filter = mon::EventFilter {
        kinds: vec![mon::EventKind::Dot as i32],
        dots: vec![],
    };
    let mut stream = subscribe(
        &mut c,
        mon::StreamEventsRequest {
            start_height: None,
            filter: Some(filter),
        },
    )
    .await;

    let mut ids = Vec::new();
    for expected in 1..=3u64 {
        let ex = within(10, "increment", c.execute("counter", "increment"))
            .await
            .expect("increment");
        assert_eq!(
            le_u64(&ex.output),
            expected,
            "output of increment #{expected}"
        );
        assert_eq!(ex.events.len(), 1, "{:?}", ex.events);
        assert_eq!(ex.events[0].topic, "incremented");
        assert_eq!(le_u64(&ex.events[0].data), expected);
        ids.push(ex.execution_id);
    }
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "execution ids not increasing: {ids:?}"
    );

    let got = c.get_dot("counter").await.expect("GetDot");
    assert_eq!(got.state.len(), 1, "{:?}", got.state);
    assert_eq!(
        le_u64(state_value(&got, b"count").expect("state has `count`")),
        3
    );
    assert_eq!(got.dot.expect("dot").executions, 3);
    let get = c.execute("counter", "get").await.expect("get");
    assert_eq!(le_u64(&get.output), 3);
    assert!(get.events.is_empty());

    for (i, expected) in (1..=3u64).enumerate() {
        match next_event(&mut stream, 10).await {
            Event::DotEvent(e) => {
                assert_eq!(e.dot, "counter");
                assert_eq!(e.topic, "incremented");
                assert_eq!(le_u64(&e.data), expected);
                assert_eq!(e.execution_id, ids[i]);
            }
            Event::Block(b) => panic!("a block event despite the DOT filter: height {}", b.height),
        }
    }
}

/// 3. A live stream without a filter delivers block commits.
#[tokio::test]
async fn live_stream_delivers_blocks() {
    let server = Server::start(ServerOpts::default().block_interval_ms(500)).await;
    let mut c = Clients::connect(&server).await;
    let mut stream = subscribe(&mut c, mon::StreamEventsRequest::default()).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut heights = Vec::new();
    while heights.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.message()).await {
            Err(_) => panic!(
                "only {} block events within 3 s: {heights:?}",
                heights.len()
            ),
            Ok(m) => match m.expect("stream failed").expect("stream ended").event {
                Some(Event::Block(b)) => heights.push(b.height),
                other => panic!("unexpected event {other:?}"),
            },
        }
    }
    assert!(
        heights[0] >= 1,
        "a live stream replayed genesis: {heights:?}"
    );
    assert_eq!(heights[1], heights[0] + 1, "{heights:?}");
}

/// 4. `start_height = 0` replays from genesis, then goes live, with no gap and no duplicate.
#[tokio::test]
async fn replay_from_genesis() {
    let server = Server::start(ServerOpts::default().block_interval_ms(200)).await;
    let mut c = Clients::connect(&server).await;
    // Some blocks, one of them with an execution, before subscribing.
    c.deploy("counter", example("counter.wat")).await;
    c.execute("counter", "increment").await.expect("increment");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let tip = c
        .monitoring
        .get_status(mon::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .height;
    assert!(
        tip >= 2,
        "expected a few blocks after 700 ms of 200 ms blocks, height {tip}"
    );

    let req = mon::StreamEventsRequest {
        start_height: Some(0),
        filter: None,
    };
    let mut stream = subscribe(&mut c, req).await;
    let mut blocks: Vec<mon::Block> = Vec::new();
    let mut dot_events = Vec::new();
    // Replayed blocks up to the tip, then at least three live ones.
    while blocks.last().is_none_or(|b| b.height < tip + 3) {
        match next_event(&mut stream, 10).await {
            Event::Block(b) => blocks.push(b),
            Event::DotEvent(e) => {
                let last = blocks.last().map(|b| b.height);
                assert!(
                    last.is_none_or(|h| h < e.block_height),
                    "dot event of block {} after block {last:?}",
                    e.block_height
                );
                dot_events.push(e);
            }
        }
    }
    let heights: Vec<u64> = blocks.iter().map(|b| b.height).collect();
    assert_eq!(heights[0], 0, "first block event: {heights:?}");
    let expected: Vec<u64> = (0..heights.len() as u64).collect();
    assert_eq!(
        heights, expected,
        "block heights are not consecutive from 0"
    );
    assert_eq!(blocks[0].parent_hash, "0".repeat(64), "genesis parent hash");
    for w in blocks.windows(2) {
        assert_eq!(
            w[1].parent_hash, w[0].hash,
            "block {} does not chain to block {}",
            w[1].height, w[0].height
        );
    }
    // The one execution is in exactly one block, and its event was replayed once (before it).
    let holders: Vec<&mon::Block> = blocks.iter().filter(|b| !b.executions.is_empty()).collect();
    assert_eq!(holders.len(), 1, "blocks with executions: {holders:?}");
    assert_eq!(holders[0].executions[0].dot, "counter");
    assert_eq!(dot_events.len(), 1, "{dot_events:?}");
    assert_eq!(dot_events[0].block_height, holders[0].height);
}
