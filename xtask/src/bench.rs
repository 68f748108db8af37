//! `cargo xtask bench grpc`: Ping latency and throughput at fixed concurrency,
//! for the full stack and for the same server with auth, metrics and tracing off,
//! measured in one run (release build) and reported as ratios.
//!
//! The client is generic: it builds the request from the protos at run time
//! (prost-reflect), so it needs no generated code.

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
    /// Which benchmark: `grpc`.
    which: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds per round and configuration.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Rounds (each measures both configurations, alternating).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args.which.as_str() {
        "grpc" => grpc(&args),
        other => bail!("unknown benchmark `{other}` (known: grpc)"),
    }
}

/// A response whose fields we do not need.
#[derive(Clone, PartialEq, prost::Message)]
struct Ignored {}

const PING: &str = "/dotlanth.runtime.v1.RuntimeService/Ping";
const TOKEN: &str = "Bearer dev-insecure-token";

struct Config {
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
}

const CONFIGS: [Config; 2] = [
    Config {
        name: "full stack",
        env: &[],
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

fn grpc(args: &BenchArgs) -> Result<()> {
    let root = crate::root();
    println!("building the release server...");
    let status = Command::new("cargo")
        .args(["build", "--release", "--workspace", "--bins"])
        .current_dir(&root)
        .status()?;
    if !status.success() {
        bail!("release build failed");
    }
    let bin = root.join("target/release/dotlanth");
    let request = ping_request(&root.join("proto"))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut results: Vec<Vec<Sample>> = vec![Vec::new(); CONFIGS.len()];
    for round in 0..args.rounds {
        for (i, config) in CONFIGS.iter().enumerate() {
            let data = tempdir()?;
            let mut server = Server::start(&bin, &data, config.env)?;
            let sample = runtime.block_on(load(server.grpc, request.clone(), args));
            server.stop();
            let _ = std::fs::remove_dir_all(&data);
            let sample = sample?;
            println!(
                "round {}: {:<26} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
                round + 1,
                config.name,
                sample.rps,
                sample.p50_ms,
                sample.p99_ms
            );
            results[i].push(sample);
        }
    }
    let mean = |v: &[Sample]| {
        let n = v.len() as f64;
        Sample {
            rps: v.iter().map(|s| s.rps).sum::<f64>() / n,
            p50_ms: v.iter().map(|s| s.p50_ms).sum::<f64>() / n,
            p99_ms: v.iter().map(|s| s.p99_ms).sum::<f64>() / n,
        }
    };
    let full = mean(&results[0]);
    let bare = mean(&results[1]);
    println!();
    println!(
        "Ping, concurrency {}, {} s x {} rounds (mean):",
        args.concurrency, args.seconds, args.rounds
    );
    for (c, s) in CONFIGS.iter().zip([full, bare]) {
        println!(
            "  {:<26} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
            c.name, s.rps, s.p50_ms, s.p99_ms
        );
    }
    println!(
        "  ratio full/bare: throughput {:.2}x, p50 {:.2}x, p99 {:.2}x",
        full.rps / bare.rps,
        full.p50_ms / bare.p50_ms,
        full.p99_ms / bare.p99_ms
    );
    Ok(())
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
    let measured = Duration::from_secs(args.seconds);
    let mut latencies = run_clients(&channels, &request, args.concurrency, measured).await?;
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies
            .get(i)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    Ok(Sample {
        rps: latencies.len() as f64 / measured.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
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
}

impl Server {
    fn start(bin: &Path, data: &Path, env: &[(&str, &str)]) -> Result<Server> {
        let grpc = free_port()?;
        let http = free_port()?;
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
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Server { child, grpc })
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

fn free_port() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
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
