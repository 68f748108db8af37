//! The echo backend: serves any generated API ([`Api`]) with no implementation,
//! so every surface (gRPC, gRPC-Web, REST, documents) of anyone's protos can be
//! tried and tested. `cargo xtask echo --protos DIR` generates a crate for DIR
//! and runs [`main`] over its `API`.
//!
//! Every method of the table answers through the same gate and surfaces as the
//! VM node; the backend itself only reflects:
//! - a unary (or client-streaming) RPC whose response type is its request type
//!   answers with the request it received (the last one, for client streams);
//!   other RPCs answer with an empty message of their response type;
//! - a server-streaming RPC sends that answer `x-echo-count` times (default 1);
//!   a bidi stream answers each request;
//! - `x-echo-error: <code>` (a canonical name such as `NOT_FOUND`, or a number)
//!   makes the call fail with that code and `x-echo-message` (default
//!   `echo: <CODE>`), after the stream's messages; `x-echo-status-details-bin:
//!   <base64 of a google.rpc.Status>` becomes that status's details
//!   (`grpc-status-details-bin`);
//! - `x-echo-delay-ms: <n>` waits that long first (at most a minute);
//! - every answer carries `x-echo-method: <package.Service/Method>`, and the
//!   request's custom metadata back (everything but gRPC's own `grpc-*` keys,
//!   transport headers, credentials, trace context and the `x-echo-*`
//!   instructions), so a client sees what metadata reached the method.
//!
//! The REST surface forwards these headers under their own names (see
//! [`ECHO_HEADERS`]), besides the usual `Grpc-Metadata-*` form.

use crate::config::{Config, Overrides};
use anyhow::Result;
use bytes::{Buf, BufMut, Bytes};
use dotlanth_meta::{Api, MethodInfo, MethodKind};
use futures_util::StreamExt;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{KeyAndValueRef, MetadataMap, MetadataValue};
use tonic::server::{
    ClientStreamingService, Grpc, ServerStreamingService, StreamingService, UnaryService,
};
use tonic::service::Routes;
use tonic::{Code, Status, Streaming};

/// The headers the echo backend reads or writes; its REST surface forwards them
/// under their own names.
pub const ECHO_HEADERS: &[&str] = &[
    "x-echo-error",
    "x-echo-message",
    "x-echo-count",
    "x-echo-delay-ms",
    "x-echo-method",
    "x-echo-status-details-bin",
];

/// Most messages one echoed stream sends.
const MAX_COUNT: u32 = 10_000;
/// Longest accepted `x-echo-delay-ms`.
const MAX_DELAY_MS: u64 = 60_000;

/// Command line of an echo server:
/// `[--port N] [--grpc-port N] [--config FILE] [--auth] [--backend URL]`.
#[derive(Debug, Default)]
pub struct EchoArgs {
    /// HTTP port (REST, documents, and gRPC by content type); default 8080.
    pub port: Option<u16>,
    /// The separate gRPC port; default: any free port.
    pub grpc_port: Option<u16>,
    /// Configuration file over the embedded defaults.
    pub config: Option<PathBuf>,
    /// Enforce the protos' auth options (off by default: the echo backend is for
    /// trying the surfaces).
    pub auth: bool,
    /// Remote mode: serve only the HTTP port, forwarding every call over gRPC to
    /// the echo server at this address (`http://127.0.0.1:50051`).
    pub backend: Option<String>,
}

impl EchoArgs {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<EchoArgs> {
        let mut out = EchoArgs::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
            };
            match arg.as_str() {
                "--port" => out.port = Some(value("--port")?.parse()?),
                "--grpc-port" => out.grpc_port = Some(value("--grpc-port")?.parse()?),
                "--config" => out.config = Some(value("--config")?.into()),
                "--auth" => out.auth = true,
                "--backend" => out.backend = Some(value("--backend")?),
                "-h" | "--help" => {
                    anyhow::bail!(
                        "usage: [--port N] [--grpc-port N] [--config FILE] [--auth] [--backend URL]"
                    )
                }
                other => anyhow::bail!("unknown argument `{other}`"),
            }
        }
        Ok(out)
    }
}

/// Entry point of an echo server binary over `api`: parses the command line,
/// serves until SIGTERM or Ctrl-C.
pub fn main(api: &'static Api) -> std::process::ExitCode {
    use std::process::ExitCode;
    let args = match EchoArgs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("echo: {e:#}");
            return ExitCode::from(2);
        }
    };
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("echo: {e:#}");
            return ExitCode::from(2);
        }
    };
    let _log_guard = crate::telemetry::init_logging(&config.telemetry);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("echo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = match args.backend {
        None => runtime.block_on(serve(&config, api)),
        Some(backend) => runtime.block_on(crate::server::gateway(config, api, &backend)),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "echo server failed");
            ExitCode::FAILURE
        }
    }
}

/// The echo server's configuration: the defaults (or `--config`), the ports from
/// the arguments, auth off unless `--auth`, the echo headers forwarded by REST.
pub fn config(args: &EchoArgs) -> Result<Config> {
    let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let overrides = Overrides {
        http_addr: args.port.map(loopback),
        grpc_addr: Some(loopback(args.grpc_port.unwrap_or(0))),
        data_dir: None,
    };
    let mut config = Config::load(args.config.as_deref(), &overrides)?;
    config.auth.enabled = args.auth;
    for h in ECHO_HEADERS {
        if !config.rest.forward_headers.iter().any(|f| f == h) {
            config.rest.forward_headers.push((*h).to_string());
        }
    }
    Ok(config)
}

/// Serves `api` over the echo backend until SIGTERM or Ctrl-C.
pub async fn serve(config: &Config, api: &'static Api) -> Result<()> {
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let echo = EchoService {
        api,
        max_message_bytes: config.server.max_message_bytes,
    };
    let services = Routes::from(axum::Router::new().fallback_service(echo));
    crate::server::run(config, api, services, shutdown_tx, shutdown_rx).await
}

/// Answers every method of the table (the gate in front has already refused
/// unknown paths).
#[derive(Clone, Copy)]
pub struct EchoService {
    api: &'static Api,
    max_message_bytes: usize,
}

impl tower::Service<http::Request<axum::body::Body>> for EchoService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<axum::body::Body>) -> Self::Future {
        let Some(method) = self.api.method(req.uri().path()) else {
            let status = Status::unimplemented("unknown method");
            return Box::pin(async move { Ok(status.into_http()) });
        };
        let limit = self.max_message_bytes;
        let echo = Echo { method };
        Box::pin(async move {
            let mut grpc = Grpc::new(RawCodec)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(usize::MAX);
            let response = match method.kind {
                MethodKind::Unary => grpc.unary(echo, req).await,
                MethodKind::ServerStreaming => grpc.server_streaming(echo, req).await,
                MethodKind::ClientStreaming => grpc.client_streaming(echo, req).await,
                MethodKind::BidiStreaming => grpc.streaming(echo, req).await,
            };
            Ok(response)
        })
    }
}

/// What the request headers ask of the echo.
struct Instructions {
    error: Option<Status>,
    count: u32,
    delay: Duration,
    /// `x-echo-method`, for every answer.
    metadata: MetadataMap,
}

impl Instructions {
    fn read(method: &MethodInfo, headers: &MetadataMap) -> Result<Instructions, Status> {
        let mut metadata = MetadataMap::new();
        for entry in headers.iter() {
            match entry {
                KeyAndValueRef::Ascii(key, value) if echoed(key.as_str()) => {
                    metadata.append(key.clone(), value.clone());
                }
                KeyAndValueRef::Binary(key, value) if echoed(key.as_str()) => {
                    metadata.append_bin(key.clone(), value.clone());
                }
                _ => {}
            }
        }
        let name = method.grpc_path.trim_start_matches('/');
        if let Ok(v) = MetadataValue::try_from(name) {
            metadata.insert("x-echo-method", v);
        }
        let text = |key: &str| -> Result<Option<&str>, Status> {
            match headers.get(key) {
                None => Ok(None),
                Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
                    Status::with_metadata(
                        Code::InvalidArgument,
                        format!("{key} is not text"),
                        metadata.clone(),
                    )
                }),
            }
        };
        let bad = |msg: String| Status::with_metadata(Code::InvalidArgument, msg, metadata.clone());
        let error = match text("x-echo-error")? {
            None => None,
            Some(code) => match parse_code(code) {
                None => {
                    return Err(bad(format!(
                        "x-echo-error: `{}` is not a gRPC status code (a name such as NOT_FOUND, or 0-16)",
                        code.chars().take(40).collect::<String>()
                    )));
                }
                Some(Code::Ok) => None,
                Some(code) => {
                    let message = match text("x-echo-message")? {
                        Some(m) => m.to_string(),
                        None => format!("echo: {}", code_name(code)),
                    };
                    let details = match headers.get_bin("x-echo-status-details-bin") {
                        None => Bytes::new(),
                        Some(v) => v.to_bytes().map_err(|_| {
                            bad("x-echo-status-details-bin is not base64".to_string())
                        })?,
                    };
                    Some(Status::with_details_and_metadata(
                        code,
                        message,
                        details,
                        metadata.clone(),
                    ))
                }
            },
        };
        let count = match text("x-echo-count")? {
            None => 1,
            Some(n) => match n.parse::<u32>() {
                Ok(n) if n <= MAX_COUNT => n,
                _ => return Err(bad(format!("x-echo-count must be 0 to {MAX_COUNT}"))),
            },
        };
        let delay = match text("x-echo-delay-ms")? {
            None => Duration::ZERO,
            Some(n) => match n.parse::<u64>() {
                Ok(n) if n <= MAX_DELAY_MS => Duration::from_millis(n),
                _ => return Err(bad(format!("x-echo-delay-ms must be 0 to {MAX_DELAY_MS}"))),
            },
        };
        Ok(Instructions {
            error,
            count,
            delay,
            metadata,
        })
    }

    fn respond<T>(&self, message: T) -> tonic::Response<T> {
        let mut r = tonic::Response::new(message);
        *r.metadata_mut() = self.metadata.clone();
        r
    }
}

/// Whether request metadata `key` is custom metadata the echo sends back.
fn echoed(key: &str) -> bool {
    !(key.starts_with("grpc-")
        || key.starts_with("x-echo-")
        || matches!(
            key,
            "content-type"
                | "content-length"
                | "te"
                | "user-agent"
                | "host"
                | "connection"
                | "accept-encoding"
                | "authorization"
                | "cookie"
                | "traceparent"
                | "tracestate"
        ))
}

/// A status code from its canonical name (`NOT_FOUND`, any case) or number.
pub fn parse_code(text: &str) -> Option<Code> {
    if let Ok(n) = text.parse::<i32>() {
        return (0..=16).contains(&n).then(|| Code::from_i32(n));
    }
    (0..=16)
        .map(Code::from_i32)
        .find(|c| code_name(*c).eq_ignore_ascii_case(text))
}

/// The canonical name of a code (`NOT_FOUND`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// One echoed call of `method`.
#[derive(Clone, Copy)]
struct Echo {
    method: &'static MethodInfo,
}

impl Echo {
    /// The answer to `request`: itself when the types agree, else an empty message.
    fn answer(&self, request: Bytes) -> Bytes {
        if self.method.input_type == self.method.output_type {
            request
        } else {
            Bytes::new()
        }
    }
}

type BoxFut<T> = Pin<Box<dyn Future<Output = Result<tonic::Response<T>, Status>> + Send>>;
type BoxStream = Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, Status>> + Send>>;

impl UnaryService<Bytes> for Echo {
    type Response = Bytes;
    type Future = BoxFut<Bytes>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let echo = *self;
        Box::pin(async move {
            let how = Instructions::read(echo.method, request.metadata())?;
            tokio::time::sleep(how.delay).await;
            if let Some(status) = how.error {
                return Err(status);
            }
            Ok(how.respond(echo.answer(request.into_inner())))
        })
    }
}

impl ServerStreamingService<Bytes> for Echo {
    type Response = Bytes;
    type ResponseStream = BoxStream;
    type Future = BoxFut<BoxStream>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let echo = *self;
        Box::pin(async move {
            let how = Instructions::read(echo.method, request.metadata())?;
            tokio::time::sleep(how.delay).await;
            let answer = echo.answer(request.into_inner());
            let messages =
                futures_util::stream::iter((0..how.count).map(move |_| Ok(answer.clone())));
            let end = futures_util::stream::iter(how.error.clone().map(Err));
            let stream: BoxStream = Box::pin(messages.chain(end));
            Ok(how.respond(stream))
        })
    }
}

impl ClientStreamingService<Bytes> for Echo {
    type Response = Bytes;
    type Future = BoxFut<Bytes>;

    fn call(&mut self, request: tonic::Request<Streaming<Bytes>>) -> Self::Future {
        let echo = *self;
        Box::pin(async move {
            let how = Instructions::read(echo.method, request.metadata())?;
            let mut stream = request.into_inner();
            let mut last = Bytes::new();
            while let Some(message) = stream.next().await {
                last = message?;
            }
            tokio::time::sleep(how.delay).await;
            if let Some(status) = how.error {
                return Err(status);
            }
            Ok(how.respond(echo.answer(last)))
        })
    }
}

impl StreamingService<Bytes> for Echo {
    type Response = Bytes;
    type ResponseStream = BoxStream;
    type Future = BoxFut<BoxStream>;

    fn call(&mut self, request: tonic::Request<Streaming<Bytes>>) -> Self::Future {
        let echo = *self;
        Box::pin(async move {
            let how = Instructions::read(echo.method, request.metadata())?;
            let error = how.error.clone();
            let answers = request.into_inner().map(move |m| m.map(|m| echo.answer(m)));
            let end = futures_util::stream::iter(error.map(Err));
            let stream: BoxStream = Box::pin(answers.chain(end));
            Ok(how.respond(stream))
        })
    }
}

/// Messages as their encoded bytes: the echo never needs to decode them.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_by_name_or_number() {
        assert_eq!(parse_code("NOT_FOUND"), Some(Code::NotFound));
        assert_eq!(parse_code("not_found"), Some(Code::NotFound));
        assert_eq!(parse_code("5"), Some(Code::NotFound));
        assert_eq!(parse_code("0"), Some(Code::Ok));
        assert_eq!(parse_code("16"), Some(Code::Unauthenticated));
        for bad in ["17", "-1", "", "NOTFOUND", "5.0"] {
            assert_eq!(parse_code(bad), None, "{bad}");
        }
        for n in 0..=16 {
            let c = Code::from_i32(n);
            assert_eq!(parse_code(code_name(c)), Some(c));
        }
    }

    #[test]
    fn args() {
        let a = EchoArgs::parse(["--port", "9000", "--auth"].map(String::from)).unwrap();
        assert_eq!(a.port, Some(9000));
        assert!(a.auth);
        assert!(EchoArgs::parse(["--port".to_string()]).is_err());
        assert!(EchoArgs::parse(["--nope".to_string()]).is_err());
    }
}
