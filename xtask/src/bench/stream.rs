//! `cargo xtask bench stream`: `MonitoringService.StreamEvents`, filtered to
//! block commits, over WebSocket (its GET binding upgraded) to 1, 100 and 1000
//! subscribers at once, with blocks every 100 ms (10 a second).
//!
//! A fresh release server per subscriber count; all subscribers in this process
//! on one tokio runtime. Measured per count, over `--seconds`:
//!
//! - delivery latency: the client's receive time minus the block's own
//!   `timestamp` (set when the block is sealed, before its storage commit; same
//!   host clock, millisecond resolution), p50 and p99 over every delivery of a
//!   block sealed in the window;
//! - lost: heights in the window's range a subscriber never got; duplicates:
//!   heights it got more than once; streams that ended early (a lagged stream
//!   closes with 4008);
//! - the server's resident memory (`VmRSS`) with every subscriber connected,
//!   at the end of the window (and idle, before the first subscriber).

use super::{BenchArgs, Server, TOKEN, TOKENS_ENV, ran_in_release, tempdir};
use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Block interval of the run.
const BLOCK_INTERVAL_MS: u64 = 100;
/// Handshakes in flight at once while the subscribers connect.
const CONNECTING: usize = 64;
/// Time between the last subscriber connecting and the window's start.
const SETTLE: Duration = Duration::from_millis(500);
/// Reading goes on this long after the window, so late deliveries count.
const GRACE: Duration = Duration::from_secs(2);
/// File descriptors this process needs besides one per subscriber.
const SPARE_FDS: u64 = 128;

/// One block as one subscriber received it.
struct Delivery {
    height: u64,
    /// The block's `timestamp`, in Unix milliseconds.
    block_ms: f64,
    /// Receive time minus `block_ms`.
    latency_ms: f64,
}

/// What one subscriber saw.
struct Seen {
    deliveries: Vec<Delivery>,
    /// How the stream ended before the end of the run, if it did.
    ended: Option<String>,
}

struct Row {
    subscribers: usize,
    deliveries: usize,
    heights: u64,
    p50_ms: f64,
    p99_ms: f64,
    lost: u64,
    duplicates: u64,
    ended: usize,
    first_end: Option<String>,
    idle_rss_kib: Option<u64>,
    rss_kib: Option<u64>,
}

pub(super) fn run(args: &BenchArgs) -> Result<()> {
    if ran_in_release()? {
        return Ok(());
    }
    if args.subscribers.is_empty() || args.subscribers.contains(&0) {
        bail!("--subscribers wants counts above zero");
    }
    let seconds = args.seconds.unwrap_or(10);
    let most = *args.subscribers.iter().max().expect("not empty");
    check_open_files(most as u64 + SPARE_FDS)?;

    let root = crate::root();
    let bin = root.join("target/release/dotlanth");
    let mut env: Vec<(String, String)> = vec![
        (TOKENS_ENV.0.into(), TOKENS_ENV.1.into()),
        (
            "DOTLANTH__VM__BLOCK_INTERVAL_MS".into(),
            BLOCK_INTERVAL_MS.to_string(),
        ),
        (
            "DOTLANTH__REST__WEBSOCKET_MAX_CONNECTIONS".into(),
            (most + 1024).to_string(),
        ),
    ];
    env.extend(args.extra_env.iter().cloned());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    let mut graphql = None;
    for &n in &args.subscribers {
        let data = tempdir()?;
        let mut server = Server::start(&bin, &data, &env)?;
        let row = runtime.block_on(async {
            let http = format!("http://{}", server.http);
            wait_ready(&http).await?;
            if graphql.is_none() {
                graphql = Some(graphql_status(&http).await?);
            }
            measure(&server, n, Duration::from_secs(seconds)).await
        });
        server.stop();
        let _ = std::fs::remove_dir_all(&data);
        let row = row?;
        println!(
            "{:>5} subscribers: {:>7} deliveries of {:>3} blocks   p50 {:>7.2} ms   p99 {:>7.2} ms   lost {}   duplicates {}   ended early {}   server RSS {}",
            row.subscribers,
            row.deliveries,
            row.heights,
            row.p50_ms,
            row.p99_ms,
            row.lost,
            row.duplicates,
            row.ended,
            mib(row.rss_kib),
        );
        if let Some(end) = &row.first_end {
            println!("      first early end: {end}");
        }
        rows.push(row);
    }

    let base = &rows[0];
    println!();
    println!(
        "StreamEvents (block commits) over WebSocket, a block every {BLOCK_INTERVAL_MS} ms, {seconds} s per subscriber count;"
    );
    println!(
        "latency = client receive time - the block's commit timestamp (absolute, same host clock, ms resolution);"
    );
    println!(
        "ratios against {} subscriber{}:",
        base.subscribers,
        if base.subscribers == 1 { "" } else { "s" }
    );
    println!(
        "  {:>11} {:>10} {:>9} {:>9} {:>6} {:>6} {:>6} {:>10} {:>10} {:>7} {:>7}",
        "subscribers",
        "deliveries",
        "p50 ms",
        "p99 ms",
        "lost",
        "dup",
        "ended",
        "RSS idle",
        "RSS end",
        "p50",
        "p99"
    );
    for r in &rows {
        println!(
            "  {:>11} {:>10} {:>9.2} {:>9.2} {:>6} {:>6} {:>6} {:>10} {:>10} {:>6.2}x {:>6.2}x",
            r.subscribers,
            r.deliveries,
            r.p50_ms,
            r.p99_ms,
            r.lost,
            r.duplicates,
            r.ended,
            mib(r.idle_rss_kib),
            mib(r.rss_kib),
            r.p50_ms / base.p50_ms,
            r.p99_ms / base.p99_ms,
        );
    }
    println!();
    println!(
        "{}",
        graphql.unwrap_or_else(|| "GraphQL: not probed".to_string())
    );
    Ok(())
}

/// Connects `n` subscribers, then measures one window.
async fn measure(server: &Server, n: usize, window: Duration) -> Result<Row> {
    let pid = server.child.id();
    let idle_rss_kib = rss_kib(pid);
    let url = format!(
        "ws://{}/api/v1/monitoring/events?filter.kinds=EVENT_KIND_BLOCK",
        server.http
    );

    // Connect everyone first (a handshake completes with the first block).
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let mut connecting = Vec::with_capacity(n);
    for _ in 0..n {
        let gate = gate.clone();
        let url = url.clone();
        connecting.push(tokio::spawn(async move {
            let _slot = gate.acquire_owned().await?;
            let mut req = url.as_str().into_client_request()?;
            req.headers_mut()
                .insert("authorization", TOKEN.parse().expect("a header value"));
            let (ws, _) = tokio::time::timeout(
                Duration::from_secs(30),
                tokio_tungstenite::connect_async(req),
            )
            .await
            .context("a WebSocket handshake took over 30 s")??;
            anyhow::Ok(ws)
        }));
    }
    let mut sockets = Vec::with_capacity(n);
    for (i, c) in connecting.into_iter().enumerate() {
        sockets.push(c.await?.with_context(|| format!("subscriber {i} of {n}"))?);
    }

    // The window: blocks sealed in [start, end), read until end + GRACE.
    let start = SystemTime::now() + SETTLE;
    let end = start + window;
    let stop = tokio::time::Instant::now() + SETTLE + window + GRACE;
    let mut readers = Vec::with_capacity(n);
    for mut ws in sockets {
        readers.push(tokio::spawn(async move {
            let mut seen = Seen {
                deliveries: Vec::new(),
                ended: None,
            };
            loop {
                let frame = match tokio::time::timeout_at(stop, ws.next()).await {
                    Err(_) => break,
                    Ok(f) => f,
                };
                let received = unix_ms(SystemTime::now());
                match frame {
                    Some(Ok(Message::Text(text))) => match block(&text) {
                        Some((height, block_ms)) => seen.deliveries.push(Delivery {
                            height,
                            block_ms,
                            latency_ms: received - block_ms,
                        }),
                        None => {
                            seen.ended = Some(format!("an unexpected frame: {text}"));
                            break;
                        }
                    },
                    Some(Ok(Message::Close(c))) => {
                        seen.ended = Some(match c {
                            Some(c) => format!("closed {}: {}", u16::from(c.code), c.reason),
                            None => "closed without a code".to_string(),
                        });
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        seen.ended = Some(format!("a socket error: {e}"));
                        break;
                    }
                    None => {
                        seen.ended = Some("the socket ended".to_string());
                        break;
                    }
                }
            }
            seen
        }));
    }

    // Memory with everyone connected, at the end of the window.
    tokio::time::sleep_until(stop - GRACE).await;
    let rss_kib = rss_kib(pid);

    let mut all = Vec::with_capacity(n);
    for r in readers {
        all.push(r.await?);
    }
    Ok(analyse(
        n,
        &all,
        unix_ms(start),
        unix_ms(end),
        idle_rss_kib,
        rss_kib,
    ))
}

fn analyse(
    n: usize,
    all: &[Seen],
    start_ms: f64,
    end_ms: f64,
    idle_rss_kib: Option<u64>,
    rss_kib: Option<u64>,
) -> Row {
    let in_window = |d: &Delivery| d.block_ms >= start_ms && d.block_ms < end_ms;
    // The window's heights: every height between the first and the last block
    // sealed in it that anyone received (a height nobody got still counts).
    let heights: Vec<u64> = all
        .iter()
        .flat_map(|s| {
            s.deliveries
                .iter()
                .filter(|d| in_window(d))
                .map(|d| d.height)
        })
        .collect();
    let (lo, hi) = match (heights.iter().min(), heights.iter().max()) {
        (Some(&lo), Some(&hi)) => (lo, hi),
        _ => (1, 0),
    };
    let mut latencies = Vec::new();
    let (mut lost, mut duplicates) = (0, 0);
    for seen in all {
        let mut count: HashMap<u64, u64> = HashMap::new();
        for d in &seen.deliveries {
            if (lo..=hi).contains(&d.height) {
                let c = count.entry(d.height).or_default();
                if *c == 0 {
                    latencies.push(d.latency_ms);
                }
                *c += 1;
            }
        }
        lost += (lo..=hi).filter(|h| !count.contains_key(h)).count() as u64;
        duplicates += count.values().map(|c| c - 1).sum::<u64>();
    }
    latencies.sort_unstable_by(f64::total_cmp);
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).copied().unwrap_or(f64::NAN)
    };
    Row {
        subscribers: n,
        deliveries: latencies.len(),
        heights: (hi + 1).saturating_sub(lo),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        lost,
        duplicates,
        ended: all.iter().filter(|s| s.ended.is_some()).count(),
        first_end: all.iter().find_map(|s| s.ended.clone()),
        idle_rss_kib,
        rss_kib,
    }
}

/// `(height, timestamp in Unix ms)` of a block event frame.
fn block(text: &str) -> Option<(u64, f64)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let b = v.get("block")?;
    // uint64 is a JSON string; height 0 is omitted.
    let height = match b.get("height") {
        None => 0,
        Some(h) => h.as_str()?.parse().ok()?,
    };
    let ts = chrono::DateTime::parse_from_rfc3339(b.get("timestamp")?.as_str()?).ok()?;
    Some((height, ts.timestamp_micros() as f64 / 1000.0))
}

fn unix_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn wait_ready(http: &str) -> Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{http}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{http} did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The GraphQL line: a GraphQL-vs-REST-vs-gRPC ratio needs a served endpoint.
async fn graphql_status(http: &str) -> Result<String> {
    let status = reqwest::Client::new()
        .post(format!("{http}/graphql"))
        .header("authorization", TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await?
        .status();
    Ok(if status == reqwest::StatusCode::NOT_FOUND {
        "GraphQL: not served yet (POST /graphql answers 404), so no GraphQL-vs-REST-vs-gRPC ratio"
            .to_string()
    } else {
        format!(
            "GraphQL: POST /graphql answers {status}, but this bench does not measure it yet (no ratio)"
        )
    })
}

/// `VmRSS` of a process, in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_string(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

/// Every subscriber holds a socket in this process and one in the server (which
/// inherits this process's limits): the soft open-files limit must cover them.
/// Read from `/proc/self/limits` (Linux); elsewhere not checked.
fn check_open_files(needed: u64) -> Result<()> {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return Ok(());
    };
    let soft = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next().map(str::to_string));
    match soft.as_deref() {
        Some("unlimited") | None => Ok(()),
        Some(v) => {
            let soft: u64 = v.parse().context("reading the open-files limit")?;
            if soft < needed {
                bail!(
                    "the open-files limit is {soft}, the run needs {needed}: raise it first (`ulimit -n {}`)",
                    needed.next_power_of_two()
                );
            }
            println!("open-files limit {soft} (the run needs {needed})");
            Ok(())
        }
    }
}
