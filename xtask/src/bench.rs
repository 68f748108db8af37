//! `cargo xtask bench grpc`: Ping latency and throughput at fixed concurrency,
//! for the full stack and for the same server with auth, metrics and tracing off,
//! measured in one run (release build) and reported as ratios. `bench rest`:
//! the same over gRPC, REST and REST through a gateway. `bench stream`: the
//! block-commit event stream over WebSocket to 1, 100 and 1000 subscribers
//! (see [`stream`]).
//!
//! The client is generic: it builds the request from the protos at run time
//! (prost-reflect), so it needs no generated code.

mod stream;

use anyhow::{Context, Result, bail};
use clap::Args;
use prost_reflect::{DescriptorPool, DynamicMessage};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

#[derive(Args)]
pub struct BenchArgs {
    /// Which benchmark: `grpc` (layers on/off), `rest` (gRPC vs in-process REST
    /// vs remote-mode REST) or `stream` (WebSocket event stream fan-out).
    which: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds per round and configuration (default 5; `stream`: per
    /// subscriber count, default 10).
    #[arg(long)]
    seconds: Option<u64>,
    /// `stream`: the subscriber counts, in turn (the first is the ratios' baseline).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 100, 1000])]
    subscribers: Vec<usize>,
    /// Rounds (each measures every configuration, in turn).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Extra `KEY=VALUE` environment for both servers (e.g. a log filter).
    #[arg(long = "env", value_parser = parse_env)]
    extra_env: Vec<(String, String)>,
}

impl BenchArgs {
    fn seconds(&self) -> u64 {
        self.seconds.unwrap_or(5)
    }
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args.which.as_str() {
        "grpc" => grpc(&args),
        "rest" => rest(&args),
        "stream" => stream::run(&args),
        other => bail!("unknown benchmark `{other}` (known: grpc, rest, stream)"),
    }
}

/// A response whose fields we do not need.
#[derive(Clone, PartialEq, prost::Message)]
struct Ignored {}

const PING: &str = "/dotlanth.runtime.v1.RuntimeService/Ping";
/// A regular (non-development) token, so the full stack is measured as deployed.
const TOKEN: &str = "Bearer bench-token";
const TOKENS_ENV: (&str, &str) = (
    "DOTLANTH__AUTH__TOKENS",
    r#"[{name = "bench", token = "bench-token", scopes = ["*"]}]"#,
);

struct Config {
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
}

/// The configurations measured; the last one is the baseline of the ratios.
const CONFIGS: [Config; 3] = [
    Config {
        name: "full stack (defaults)",
        env: &[],
    },
    Config {
        name: "full stack, no access log",
        env: &[("DOTLANTH__TELEMETRY__ACCESS_LOG", "false")],
    },
    Config {
        name: "auth+metrics+tracing off",
        env: &[
            ("DOTLANTH__AUTH__ENABLED", "false"),
            ("DOTLANTH__TELEMETRY__ENABLED", "false"),
        ],
    },
];

#[derive(Clone, Copy, Default)]
struct Sample {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// In a debug xtask: builds everything in release and runs the same benchmark
/// from the release xtask (the load generator must not be the bottleneck).
/// Returns true when it did (the caller is then done).
fn ran_in_release() -> Result<bool> {
    if !cfg!(debug_assertions) {
        return Ok(false);
    }
    let root = crate::root();
    println!("building release binaries...");
    let status = Command::new("cargo")
        .args(["build", "--release", "--workspace", "--bins"])
        .current_dir(&root)
        .status()?;
    if !status.success() {
        bail!("release build failed");
    }
    let status = Command::new(root.join("target/release/xtask"))
        .args(std::env::args_os().skip(1))
        .status()?;
    if !status.success() {
        bail!("benchmark failed");
    }
    Ok(true)
}

fn grpc(args: &BenchArgs) -> Result<()> {
    if ran_in_release()? {
        return Ok(());
    }
    let root = crate::root();
    let bin = root.join("target/release/dotlanth");
    let request = ping_request(&root.join("proto"))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut results: Vec<Vec<Sample>> = vec![Vec::new(); CONFIGS.len()];
    for round in 0..args.rounds {
        for (i, config) in CONFIGS.iter().enumerate() {
            let data = tempdir()?;
            let mut env: Vec<(String, String)> = vec![(TOKENS_ENV.0.into(), TOKENS_ENV.1.into())];
            env.extend(
                config
                    .env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            );
            env.extend(args.extra_env.iter().cloned());
            let mut server = Server::start(&bin, &data, &env)?;
            let sample = runtime.block_on(load(server.grpc, request.clone(), args));
            server.stop();
            let _ = std::fs::remove_dir_all(&data);
            let sample = sample?;
            println!(
                "round {}: {:<28} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
                round + 1,
                config.name,
                sample.rps,
                sample.p50_ms,
                sample.p99_ms
            );
            results[i].push(sample);
        }
    }
    let means: Vec<Sample> = results.iter().map(|r| mean(r)).collect();
    let base = means[means.len() - 1];
    println!();
    println!(
        "Ping, concurrency {}, {} s x {} rounds (mean); ratios against the last line:",
        args.concurrency,
        args.seconds(),
        args.rounds
    );
    for (c, s) in CONFIGS.iter().zip(&means) {
        println!(
            "  {:<28} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   throughput {:.2}x  p50 {:.2}x  p99 {:.2}x",
            c.name,
            s.rps,
            s.p50_ms,
            s.p99_ms,
            s.rps / base.rps,
            s.p50_ms / base.p50_ms,
            s.p99_ms / base.p99_ms
        );
    }
    Ok(())
}

/// Ping over direct gRPC, REST transcoded in process, and REST through a
/// separate gateway process (remote mode, the proxy baseline), in one run.
fn rest(args: &BenchArgs) -> Result<()> {
    if ran_in_release()? {
        return Ok(());
    }
    let root = crate::root();
    let bin = root.join("target/release/dotlanth");
    let request = ping_request(&root.join("proto"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let names = ["gRPC (direct)", "REST in process", "REST remote (gateway)"];
    let mut results: Vec<Vec<Sample>> = vec![Vec::new(); names.len()];
    let mut env: Vec<(String, String)> = vec![(TOKENS_ENV.0.into(), TOKENS_ENV.1.into())];
    env.extend(args.extra_env.iter().cloned());
    for round in 0..args.rounds {
        let data = tempdir()?;
        let mut server = Server::start(&bin, &data, &env)?;
        let mut gateway = Server::gateway(&bin, server.grpc, &env)?;
        let ping = |addr: SocketAddr| format!("http://{addr}/api/v1/runtime/ping");
        let samples = runtime.block_on(async {
            anyhow::Ok([
                load(server.grpc, request.clone(), args).await?,
                load_http(&ping(server.http), args).await?,
                load_http(&ping(gateway.http), args).await?,
            ])
        });
        gateway.stop();
        server.stop();
        let _ = std::fs::remove_dir_all(&data);
        for (i, sample) in samples?.into_iter().enumerate() {
            println!(
                "round {}: {:<24} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
                round + 1,
                names[i],
                sample.rps,
                sample.p50_ms,
                sample.p99_ms
            );
            results[i].push(sample);
        }
    }
    let means: Vec<Sample> = results.iter().map(|r| mean(r)).collect();
    let base = means[0];
    println!();
    println!(
        "Ping, concurrency {}, {} s x {} rounds (mean); ratios against direct gRPC:",
        args.concurrency,
        args.seconds(),
        args.rounds
    );
    for (name, s) in names.iter().zip(&means) {
        println!(
            "  {:<24} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   throughput {:.2}x  p50 {:.2}x  p99 {:.2}x",
            name,
            s.rps,
            s.p50_ms,
            s.p99_ms,
            s.rps / base.rps,
            s.p50_ms / base.p50_ms,
            s.p99_ms / base.p99_ms
        );
    }
    Ok(())
}

fn mean(v: &[Sample]) -> Sample {
    let n = v.len() as f64;
    Sample {
        rps: v.iter().map(|s| s.rps).sum::<f64>() / n,
        p50_ms: v.iter().map(|s| s.p50_ms).sum::<f64>() / n,
        p99_ms: v.iter().map(|s| s.p99_ms).sum::<f64>() / n,
    }
}

/// The REST load: `POST {"payload":"bench"}` with the bench token, over HTTP/1.1
/// keep-alive connections.
async fn load_http(url: &str, args: &BenchArgs) -> Result<Sample> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .post(url)
        .header("authorization", TOKEN)
        .body("{}")
        .send()
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("{url} did not come up");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = |duration: Duration| {
        let client = client.clone();
        let url = url.to_string();
        async move {
            let deadline = Instant::now() + duration;
            let mut tasks = Vec::new();
            for _ in 0..args.concurrency {
                let client = client.clone();
                let url = url.clone();
                tasks.push(tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let start = Instant::now();
                        let resp = client
                            .post(&url)
                            .header("authorization", TOKEN)
                            .header("content-type", "application/json")
                            .body(r#"{"payload":"bench"}"#)
                            .send()
                            .await?;
                        if !resp.status().is_success() {
                            bail!("Ping over REST failed: {}", resp.status());
                        }
                        resp.bytes().await?;
                        latencies.push(start.elapsed());
                    }
                    anyhow::Ok(latencies)
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await??);
            }
            anyhow::Ok(all)
        }
    };
    run(Duration::from_secs(1)).await?;
    let measured = Duration::from_secs(args.seconds());
    let mut latencies = run(measured).await?;
    Ok(sample(&mut latencies, measured))
}

/// Throughput and percentiles of a run.
fn sample(latencies: &mut [Duration], measured: Duration) -> Sample {
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies
            .get(i)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    Sample {
        rps: latencies.len() as f64 / measured.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// `PingRequest { payload: "bench" }`, built from the protos.
fn ping_request(protos: &Path) -> Result<DynamicMessage> {
    let files = crate::codegen::proto_files(protos)?;
    let mut compiler = protox::Compiler::new([protos])?;
    compiler.include_imports(true);
    compiler
        .open_files(&files)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice())?;
    let desc = pool
        .get_message_by_name("dotlanth.runtime.v1.PingRequest")
        .context("PingRequest not in the protos")?;
    let mut msg = DynamicMessage::new(desc);
    msg.set_field_by_name("payload", prost_reflect::Value::String("bench".into()));
    Ok(msg)
}

async fn load(addr: SocketAddr, request: DynamicMessage, args: &BenchArgs) -> Result<Sample> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))?;
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(connect(&endpoint).await?);
    }
    // Warm up, then measure.
    run_clients(
        &channels,
        &request,
        args.concurrency,
        Duration::from_secs(1),
    )
    .await?;
    let measured = Duration::from_secs(args.seconds());
    let mut latencies = run_clients(&channels, &request, args.concurrency, measured).await?;
    Ok(sample(&mut latencies, measured))
}

async fn connect(endpoint: &Endpoint) -> Result<Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match endpoint.connect().await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() > deadline => return Err(e).context("server did not come up"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn run_clients(
    channels: &[Channel],
    request: &DynamicMessage,
    concurrency: usize,
    duration: Duration,
) -> Result<Vec<Duration>> {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let channel = channels[i % channels.len()].clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = tonic::client::Grpc::new(channel);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let mut req = tonic::Request::new(request.clone());
                req.metadata_mut()
                    .insert("authorization", TOKEN.parse().expect("valid header"));
                client.ready().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                let start = Instant::now();
                let codec = tonic_prost::ProstCodec::<DynamicMessage, Ignored>::default();
                client
                    .unary::<_, Ignored, _>(req, PathAndQuery::from_static(PING), codec)
                    .await
                    .map_err(|s| anyhow::anyhow!("Ping failed: {s}"))?;
                latencies.push(start.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

struct Server {
    child: Child,
    grpc: SocketAddr,
    http: SocketAddr,
}

impl Server {
    fn start(bin: &Path, data: &Path, env: &[(String, String)]) -> Result<Server> {
        // Both held while choosing, so they differ.
        let (a, b) = (
            TcpListener::bind("127.0.0.1:0")?,
            TcpListener::bind("127.0.0.1:0")?,
        );
        let (grpc, http) = (a.local_addr()?, b.local_addr()?);
        drop((a, b));
        let child = Command::new(bin)
            .args([
                "serve",
                "--grpc-addr",
                &grpc.to_string(),
                "--http-addr",
                &http.to_string(),
                "--data-dir",
            ])
            .arg(data)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Server { child, grpc, http })
    }

    /// A `dotlanth gateway` (remote mode) in front of the node at `backend`.
    fn gateway(bin: &Path, backend: SocketAddr, env: &[(String, String)]) -> Result<Server> {
        let http = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let child = Command::new(bin)
            .args([
                "gateway",
                "--backend",
                &format!("http://{backend}"),
                "--http-addr",
                &http.to_string(),
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} gateway", bin.display()))?;
        Ok(Server {
            child,
            grpc: backend,
            http,
        })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))
}

fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "dotlanth-bench-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
