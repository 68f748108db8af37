//! The REST/JSON surface: every `google.api.http` binding of the generated
//! metadata table, transcoded into a gRPC call of the **same** in-process service
//! stack the gRPC port serves (the [`GateLayer`](crate::grpc_layer::GateLayer)
//! over the tonic routes): one dispatch path for auth, metrics, tracing and
//! status codes, no network hop.
//!
//! Flow: [`router`] matches method and raw path → [`request`] builds the request
//! message from path, query and body (proto3 JSON, via prost-reflect and the
//! generated descriptor set) → a gRPC frame goes through the backend service →
//! [`response`] renders the reply (or NDJSON/SSE for server streams) or the
//! status as `google.rpc.Status` JSON.

// Errors here are ready-made HTTP responses, built once per failed request; their
// size does not matter.
#![allow(clippy::result_large_err)]

pub mod details;
pub mod request;
pub mod response;
pub mod router;
#[rustfmt::skip]
mod rpc_descriptor_set;
mod websocket;

pub use websocket::WebSocketOptions;

use crate::gate::Surface;
use crate::grpc_layer::GateService;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use details::DetailTypes;
use dotlanth_meta::{Api, MethodKind};
use http_body_util::{BodyExt, Full, Limited};
use prost::Message;
use prost_reflect::{DescriptorPool, MessageDescriptor};
use request::Strictness;
use response::{
    RawSource, error, frames, json_response, message_json, raw_body, raw_response,
    status_details_json, status_error, status_json,
};
use router::{RouteError, Router};
use serde_json::json;
use std::sync::Arc;
use tonic::Code;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

/// Where REST calls go: in process, the gate over the same tonic routes the gRPC
/// port serves; in remote mode, a gRPC channel to a node (whose gate applies).
pub type Backend = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    Box<dyn std::error::Error + Send + Sync>,
>;

/// The in-process backend.
pub fn in_process(gated: GateService<tonic::service::Routes>) -> Backend {
    let service =
        ServiceExt::<http::Request<tonic::body::Body>>::map_err(gated, |never| match never {});
    BoxCloneSyncService::new(service)
}

/// The remote backend: a lazily connected gRPC channel to `target`.
pub fn remote(target: &str) -> anyhow::Result<Backend> {
    let channel = tonic::transport::Endpoint::from_shared(target.to_string())?.connect_lazy();
    Ok(BoxCloneSyncService::new(channel.map_err(|e| {
        Box::new(e) as Box<dyn std::error::Error + Send + Sync>
    })))
}

/// Settings of the REST surface.
#[derive(Clone, Debug)]
pub struct RestOptions {
    /// Largest accepted request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Parsing strictness.
    pub strictness: Strictness,
    /// Headers passed to the call and back under their own names.
    pub forward_headers: Vec<HeaderName>,
    /// Server streams over WebSocket.
    pub websocket: WebSocketOptions,
}

/// Routes, descriptors and the backend; shared by every request.
pub struct RestGateway {
    router: Router,
    pool: DescriptorPool,
    /// Types of status details, for error bodies.
    details: DetailTypes,
    backend: Backend,
    options: RestOptions,
    /// One permit per open WebSocket stream.
    websocket_slots: Arc<tokio::sync::Semaphore>,
}

/// Headers copied from the HTTP request into the gRPC call as they are.
const FORWARDED: &[&str] = &["authorization", "traceparent", "tracestate", "grpc-timeout"];
/// Prefix of request headers that become metadata, and of response metadata headers.
const METADATA_PREFIX: &str = "grpc-metadata-";
/// Largest metadata a call may carry, counted as HTTP/2 does (name, value and 32
/// bytes per entry): a gRPC server refuses a header list over 16 KiB (hyper's
/// default) without a gRPC status, and the rest is left for the pseudo-headers.
/// Checked in both modes, so a request fails the same way in process and remote.
const MAX_CALL_METADATA_BYTES: usize = 15 * 1024;

impl RestGateway {
    /// A gateway over a generated API's method table and descriptors.
    pub fn new(
        api: &'static Api,
        backend: Backend,
        options: RestOptions,
    ) -> anyhow::Result<Arc<Self>> {
        let pool = DescriptorPool::decode(api.file_descriptor_set)?;
        Ok(Arc::new(RestGateway {
            router: Router::new(api.methods),
            details: DetailTypes::new(pool.clone())?,
            pool,
            backend,
            websocket_slots: Arc::new(tokio::sync::Semaphore::new(
                options.websocket.max_connections,
            )),
            options,
        }))
    }

    fn descriptor(&self, name: &str) -> Result<MessageDescriptor, Response> {
        self.pool
            .get_message_by_name(name)
            .ok_or_else(|| error(Code::Internal, "descriptor missing"))
    }

    /// Answers one HTTP request.
    pub async fn handle(self: Arc<Self>, req: Request<Body>) -> Response {
        match self.transcode(req).await {
            Ok(r) | Err(r) => r,
        }
    }

    async fn transcode(&self, req: Request<Body>) -> Result<Response, Response> {
        let (mut parts, body) = req.into_parts();
        let matched = match self.router.route(&parts.method, parts.uri.path()) {
            Ok(m) => m,
            Err(RouteError::NotFound) => {
                return Err(error(
                    Code::NotFound,
                    &format!("no route for {} {}", parts.method, parts.uri.path()),
                ));
            }
            Err(RouteError::MethodNotAllowed { allow }) => {
                let mut r = json_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &status_json(
                        Code::Unimplemented,
                        &format!("method {} is not allowed here", parts.method),
                    ),
                );
                if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                    r.headers_mut().insert(header::ALLOW, v);
                }
                return Err(r);
            }
            Err(RouteError::BadPath(msg)) => return Err(error(Code::InvalidArgument, &msg)),
        };
        let method = matched.method;
        let binding = matched.binding;
        // A server stream's GET binding also answers a WebSocket upgrade.
        let upgrade = if method.kind == MethodKind::ServerStreaming
            && parts.method == http::Method::GET
            && websocket::is_upgrade(&parts.headers)
        {
            Some(websocket::accept(&mut parts, &self.websocket_slots).await?)
        } else {
            None
        };
        let call_headers = match &upgrade {
            Some(_) => std::borrow::Cow::Owned(websocket::call_headers(&parts.headers)),
            None => std::borrow::Cow::Borrowed(&parts.headers),
        };

        // A client waiting for `100 Continue` with a declared length over the
        // limit is refused before it is invited to send the body. (One already
        // sending is read up to the limit, so the refusal is not lost to a
        // connection reset while it writes.)
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let waits = parts
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if waits && declared.is_some_and(|n| n > self.options.max_body_bytes as u64) {
            return Err(body_too_large(self.options.max_body_bytes));
        }
        let body = match Limited::new(body, self.options.max_body_bytes)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(body_too_large(self.options.max_body_bytes));
            }
            Err(e) => {
                return Err(error(
                    Code::InvalidArgument,
                    &format!("reading the body: {e}"),
                ));
            }
        };
        let input = self.descriptor(method.input_type)?;
        let output = self.descriptor(method.output_type)?;
        // A `google.api.HttpBody` body takes the raw bytes, whatever their type.
        let raw_in = request::raw_body_target(&input, binding.body);
        if raw_in.is_none()
            && !binding.body.is_empty()
            && !body.is_empty()
            && !is_json(&parts.headers)
        {
            return Err(error(
                Code::InvalidArgument,
                "the body must be JSON (content-type: application/json)",
            )
            .map_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let json_body: &[u8] = if raw_in.is_some() { b"" } else { &body };
        let mut message = request::build(
            &input,
            binding,
            &matched.variables,
            parts.uri.query(),
            json_body,
            self.options.strictness,
        )
        .map_err(|e| error(Code::InvalidArgument, &e.0))?;
        if let Some(target) = raw_in {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            request::set_raw_body(&mut message, target, content_type, body)
                .map_err(|e| error(Code::Internal, &e))?;
        }
        let raw_out = response::raw_body_source(&output, binding.response_body);

        let surface = if upgrade.is_some() {
            Surface::WebSocket
        } else {
            Surface::Rest
        };
        let grpc_request = grpc_request(
            method.grpc_path,
            &call_headers,
            &self.options.forward_headers,
            message.encode_to_vec(),
            surface,
        )?;
        // `grpc-timeout` bounds the whole call here too (tonic enforces it only in
        // its own transport, not on in-process routes).
        let deadline = parts
            .headers
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(grpc_timeout);
        if deadline.is_some_and(|d| d.is_zero()) {
            // Already expired: the call does not start (whether a fast call
            // would finish in its first poll is no answer to rely on).
            return Err(error(
                Code::DeadlineExceeded,
                "the grpc-timeout deadline passed",
            ));
        }
        let expires = deadline.map(|d| std::time::Instant::now() + d);
        let call = self.backend.clone().oneshot(grpc_request);
        let outcome = match deadline {
            Some(d) => tokio::time::timeout(d, call)
                .await
                .unwrap_or_else(|_| Err(deadline_error())),
            None => call.await,
        };
        let reply = match outcome {
            Ok(r) => r,
            Err(e) => return Err(backend_error(e.as_ref())),
        };
        if let Some(r) = http_failure(&reply) {
            return Err(r);
        }
        if let Some(upgrade) = upgrade {
            return websocket::respond(
                reply,
                upgrade,
                websocket::Render {
                    output,
                    response_body: binding.response_body,
                    types: self.details.clone(),
                    max: self.options.max_body_bytes,
                    options: self.options.websocket.clone(),
                },
                &self.options.forward_headers,
            )
            .await;
        }
        if method.kind == MethodKind::ServerStreaming {
            if let Some(source) = raw_out {
                return stream::respond_raw(
                    reply,
                    output,
                    source,
                    &self.details,
                    self.options.max_body_bytes,
                    &self.options.forward_headers,
                )
                .await;
            }
            return stream::respond(
                reply,
                output,
                binding.response_body,
                self.details.clone(),
                wants_sse(&parts.headers),
                self.options.max_body_bytes,
                &self.options.forward_headers,
            )
            .await;
        }
        unary_reply(
            reply,
            &output,
            binding.response_body,
            raw_out,
            &self.details,
            self.options.max_body_bytes,
            &self.options.forward_headers,
        )
        .await
        .map_err(|r| {
            // A call that failed once its deadline had passed failed for the
            // deadline, whatever the backend reported: a remote tonic server
            // answers an expired `grpc-timeout` with CANCELLED.
            if expires.is_some_and(|t| std::time::Instant::now() >= t) {
                error(Code::DeadlineExceeded, "the grpc-timeout deadline passed")
            } else {
                r
            }
        })
    }
}

/// 413: the request body is over `max` bytes.
fn body_too_large(max: usize) -> Response {
    error(
        Code::ResourceExhausted,
        &format!("request body over {max} bytes"),
    )
    .map_status(StatusCode::PAYLOAD_TOO_LARGE)
}

/// A backend answer that is an HTTP error without a gRPC status (a remote
/// server refusing the request before any gRPC handling, e.g. 431 for headers
/// over its limit), as the gRPC status the HTTP status maps to.
fn http_failure(reply: &http::Response<tonic::body::Body>) -> Option<Response> {
    let status = reply.status();
    if status == StatusCode::OK || reply.headers().contains_key("grpc-status") {
        return None;
    }
    let message = format!("the backend refused the call with HTTP {status}");
    Some(match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            error(Code::InvalidArgument, &message).map_status(status)
        }
        StatusCode::UNAUTHORIZED => error(Code::Unauthenticated, &message),
        StatusCode::FORBIDDEN => error(Code::PermissionDenied, &message),
        StatusCode::NOT_FOUND => error(Code::Unimplemented, &message),
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => error(Code::Unavailable, &message),
        StatusCode::BAD_REQUEST => error(Code::Internal, &message),
        _ => error(Code::Unknown, &message),
    })
}

/// The `grpc-timeout` header's duration (`<1-8 digits><H|M|S|m|u|n>`).
fn grpc_timeout(value: &str) -> Option<std::time::Duration> {
    use std::time::Duration;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

fn deadline_error() -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(tonic::Status::deadline_exceeded(
        "the grpc-timeout deadline passed",
    ))
}

/// A failed backend call as an HTTP error: a status or an expired deadline keeps
/// its code; anything else means the backend could not be reached.
fn backend_error(e: &(dyn std::error::Error + 'static)) -> Response {
    // The cause may be wrapped (a transport error around an expired timeout).
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(status) = c.downcast_ref::<tonic::Status>() {
            return error(status.code(), status.message());
        }
        if c.downcast_ref::<tonic::TimeoutExpired>().is_some() {
            return error(Code::DeadlineExceeded, "the grpc-timeout deadline passed");
        }
        cause = c.source();
    }
    error(
        Code::Unavailable,
        &format!("the backend is unavailable: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::{grpc_timeout, header_status};
    use axum::http::HeaderMap;
    use std::time::Duration;
    use tonic::Code;

    #[test]
    fn a_details_header_that_is_not_base64_is_dropped() {
        let mut h = HeaderMap::new();
        h.insert("grpc-status", "5".parse().unwrap());
        h.insert("grpc-message", "gone".parse().unwrap());
        h.insert("grpc-status-details-bin", "not base64!".parse().unwrap());
        let s = header_status(&h).expect("a status");
        assert_eq!(
            (s.code(), s.message(), s.details()),
            (Code::NotFound, "gone", &b""[..])
        );
        // Valid details (padded or not) are kept.
        for v in ["CAU", "CAU="] {
            h.insert("grpc-status-details-bin", v.parse().unwrap());
            assert_eq!(header_status(&h).unwrap().details(), &[8, 5][..], "{v}");
        }
    }

    #[test]
    fn grpc_timeout_header() {
        assert_eq!(grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout("5n"), Some(Duration::from_nanos(5)));
        for bad in ["", "m", "123456789m", "10x", "-1S", "1.5S", "١S"] {
            assert_eq!(grpc_timeout(bad), None, "{bad}");
        }
    }
}

trait MapStatus {
    fn map_status(self, status: StatusCode) -> Self;
}

impl MapStatus for Response {
    fn map_status(mut self, status: StatusCode) -> Self {
        *self.status_mut() = status;
        self
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        // A body without a content type is refused: browsers send such bodies
        // cross-site without a CORS preflight.
        None => false,
        Some(ct) => {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        }
    }
}

fn wants_sse(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"))
}

/// The in-process gRPC request for a transcoded call.
fn grpc_request(
    path: &str,
    headers: &HeaderMap,
    forward: &[HeaderName],
    message: Vec<u8>,
    surface: Surface,
) -> Result<http::Request<tonic::body::Body>, Response> {
    let len = u32::try_from(message.len())
        .map_err(|_| error(Code::ResourceExhausted, "request too large"))?;
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.extend_from_slice(&[0]);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&message);
    let mut req = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/grpc")
        .header(header::TE, "trailers")
        .body(tonic::body::Body::new(Full::new(frame.freeze())))
        .map_err(|e| error(Code::Internal, &format!("building the call: {e}")))?;
    // The gate's `surface` label. A request extension, so it stays in process: a
    // remote backend (a gRPC channel) drops it and the node counts the call as
    // plain gRPC.
    req.extensions_mut().insert(surface);
    let target = req.headers_mut();
    for name in FORWARDED {
        if let Some(v) = headers.get(*name) {
            target.insert(HeaderName::from_static(name), v.clone());
        }
    }
    for name in forward {
        for v in headers.get_all(name) {
            target.append(name.clone(), v.clone());
        }
    }
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(METADATA_PREFIX) {
            // Reserved gRPC headers, the headers forwarded above, and hop-by-hop or
            // proxy headers are not client metadata.
            let reserved = key.is_empty()
                || key.starts_with("grpc-")
                || key.starts_with("x-forwarded-")
                || key.starts_with("proxy-")
                || FORWARDED.contains(&key)
                || matches!(
                    key,
                    "content-type"
                        | "content-length"
                        | "te"
                        | "host"
                        | "connection"
                        | "keep-alive"
                        | "transfer-encoding"
                        | "upgrade"
                        | "trailer"
                );
            if reserved {
                continue;
            }
            if let Ok(key) = HeaderName::from_bytes(key.as_bytes()) {
                target.append(key, value.clone());
            }
        }
    }
    let size: usize = target
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 32)
        .sum();
    if size > MAX_CALL_METADATA_BYTES {
        return Err(error(
            Code::InvalidArgument,
            &format!(
                "the call's metadata is over {MAX_CALL_METADATA_BYTES} bytes (request headers too large)"
            ),
        )
        .map_status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
    }
    Ok(req)
}

/// gRPC status of a finished call: trailers first, else the headers
/// (trailers-only answers).
fn call_status(headers: &HeaderMap, trailers: Option<&HeaderMap>) -> tonic::Status {
    trailers
        .and_then(header_status)
        .or_else(|| header_status(headers))
        .unwrap_or_else(|| tonic::Status::unknown("the call ended without a status"))
}

/// The status in a header map, if any. A `grpc-status-details-bin` that is not
/// base64 is dropped first (tonic would panic on it; a remote backend can send
/// anything).
fn header_status(map: &HeaderMap) -> Option<tonic::Status> {
    let details = tonic::Status::GRPC_STATUS_DETAILS;
    match map.get(&details) {
        Some(v) if !details::valid_details_header(v.as_bytes()) => {
            tracing::warn!("the backend sent a grpc-status-details-bin that is not base64");
            let mut clean = map.clone();
            clean.remove(&details);
            tonic::Status::from_header_map(&clean)
        }
        _ => tonic::Status::from_header_map(map),
    }
}

/// Response metadata as `Grpc-Metadata-<k>` headers (and the forwarded ones
/// under their own names too).
fn metadata_headers(from: &HeaderMap, to: &mut HeaderMap, forward: &[HeaderName]) {
    for (name, value) in from {
        let n = name.as_str();
        // gRPC's own headers, and HTTP headers a backend's server adds to every
        // answer (CORS, `vary`), are not response metadata.
        if n.starts_with("grpc-")
            || n.starts_with("access-control-")
            || matches!(
                n,
                "content-type" | "date" | "te" | "content-length" | "vary" | "server"
            )
        {
            continue;
        }
        if forward.contains(name) {
            to.append(name.clone(), value.clone());
        }
        if let Ok(h) = HeaderName::from_bytes(format!("{METADATA_PREFIX}{n}").as_bytes()) {
            to.append(h, value.clone());
        }
    }
}

async fn unary_reply(
    reply: http::Response<tonic::body::Body>,
    output: &MessageDescriptor,
    response_body: &str,
    raw: Option<RawSource>,
    types: &DetailTypes,
    max_bytes: usize,
    forward: &[HeaderName],
) -> Result<Response, Response> {
    let (parts, body) = reply.into_parts();
    let collected = Limited::new(body, max_bytes.saturating_add(5))
        .collect()
        .await
        .map_err(|e| error(Code::Unavailable, &format!("reading the reply: {e}")))?;
    let trailers = collected.trailers().cloned();
    let bytes: Bytes = collected.to_bytes();
    let status = call_status(&parts.headers, trailers.as_ref());
    if status.code() != Code::Ok {
        let mut r = status_error(&status, types);
        metadata_headers(&parts.headers, r.headers_mut(), forward);
        return Err(r);
    }
    let messages = frames(&bytes).map_err(|e| error(Code::Internal, &e))?;
    let [message] = messages.as_slice() else {
        return Err(error(
            Code::Internal,
            "a unary call answered with no or several messages",
        ));
    };
    if let Some(source) = raw {
        let (content_type, data) =
            raw_body(output, source, message).map_err(|e| error(Code::Internal, &e))?;
        let mut r = raw_response(&content_type, data);
        metadata_headers(&parts.headers, r.headers_mut(), forward);
        return Ok(r);
    }
    let value =
        message_json(output, message, response_body).map_err(|e| error(Code::Internal, &e))?;
    let mut r = json_response(StatusCode::OK, &value);
    metadata_headers(&parts.headers, r.headers_mut(), forward);
    Ok(r)
}

/// Server streams: newline-delimited `{"result": …}` lines, or SSE `data:` events,
/// flushed per message, ending with an `{"error": Status}` line (SSE: an `event:
/// error` whose data is the Status) on failure. Nothing is sent before the first
/// message, so a failure before it is a plain error reply with its HTTP status.
mod stream {
    use super::*;
    use futures_util::StreamExt;

    /// Reads frames out of the reply body as they arrive. Cancel-safe: a
    /// dropped `next` loses nothing.
    pub(super) struct Frames {
        pub(super) body: tonic::body::Body,
        pub(super) buf: BytesMut,
        pub(super) trailers: Option<HeaderMap>,
        pub(super) done: bool,
        /// Largest message accepted from the backend.
        pub(super) max: usize,
    }

    pub(super) enum Item {
        Message(Bytes),
        End,
        Failed(String),
    }

    impl Frames {
        pub(super) async fn next(&mut self) -> Item {
            loop {
                if self.buf.len() >= 5 {
                    let len =
                        u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                            as usize;
                    if self.buf[0] != 0 {
                        return Item::Failed("compressed gRPC frames are not expected".into());
                    }
                    if len > self.max {
                        return Item::Failed(format!("a message over {} bytes", self.max));
                    }
                    if self.buf.len() >= 5 + len {
                        let frame = self.buf.split_to(5 + len).freeze();
                        return Item::Message(frame.slice(5..));
                    }
                }
                if self.done {
                    return if self.buf.is_empty() {
                        Item::End
                    } else {
                        Item::Failed("truncated gRPC frame".into())
                    };
                }
                match self.body.frame().await {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => self.buf.extend_from_slice(&data),
                        Err(frame) => {
                            if let Ok(t) = frame.into_trailers() {
                                self.trailers = Some(t);
                            }
                        }
                    },
                    Some(Err(e)) => return Item::Failed(format!("the stream broke: {e}")),
                    None => self.done = true,
                }
            }
        }
    }

    /// One message: `{"result": …}` line, or SSE `data:`.
    fn message_line(value: serde_json::Value, sse: bool) -> Bytes {
        if sse {
            Bytes::from(format!("data: {value}\n\n"))
        } else {
            Bytes::from(format!("{}\n", json!({ "result": value })))
        }
    }

    /// The failure that ends a stream: an `{"error": Status}` line, or SSE `event:
    /// error` with the Status as its data.
    fn error_line(status: serde_json::Value, sse: bool) -> Bytes {
        if sse {
            Bytes::from(format!("event: error\ndata: {status}\n\n"))
        } else {
            Bytes::from(format!("{}\n", json!({ "error": status })))
        }
    }

    pub async fn respond(
        reply: http::Response<tonic::body::Body>,
        output: MessageDescriptor,
        response_body: &'static str,
        types: DetailTypes,
        sse: bool,
        max: usize,
        forward: &[HeaderName],
    ) -> Result<Response, Response> {
        let (parts, body) = reply.into_parts();
        let headers = parts.headers;
        // A trailers-only answer failed before any message: it gets its own HTTP
        // status. Otherwise the stream starts now (headers go out at once, so
        // EventSource opens even when the first event is far away).
        if let Some(status) = header_status(&headers) {
            if status.code() != Code::Ok {
                let mut r = status_error(&status, &types);
                metadata_headers(&headers, r.headers_mut(), forward);
                return Err(r);
            }
            return Ok(stream_response(&headers, sse, Body::empty(), forward));
        }
        let mut frames = Frames {
            body,
            buf: BytesMut::new(),
            trailers: None,
            done: false,
            max,
        };
        let render = move |bytes: &[u8]| -> Bytes {
            match message_json(&output, bytes, response_body) {
                Ok(v) => message_line(v, sse),
                Err(e) => error_line(status_json(Code::Internal, &e), sse),
            }
        };
        // Nothing goes out before the first message (or the end): a failure
        // before it gets its own HTTP status.
        let first = match frames.next().await {
            Item::Message(m) => render(&m),
            Item::End => {
                let status = call_status(&headers, frames.trailers.as_ref());
                if status.code() != Code::Ok {
                    let mut r = status_error(&status, &types);
                    metadata_headers(&headers, r.headers_mut(), forward);
                    return Err(r);
                }
                return Ok(stream_response(&headers, sse, Body::empty(), forward));
            }
            Item::Failed(msg) => return Err(error(Code::Unavailable, &msg)),
        };
        let head = (headers.clone(), types);
        let rest =
            futures_util::stream::unfold(Some((frames, render, head)), move |state| async move {
                let (mut frames, render, head) = state?;
                match frames.next().await {
                    Item::Message(m) => {
                        let out = render(&m);
                        Some((
                            Ok::<Bytes, std::convert::Infallible>(out),
                            Some((frames, render, head)),
                        ))
                    }
                    Item::End => {
                        let (head, types) = &head;
                        let status = call_status(head, frames.trailers.as_ref());
                        if status.code() == Code::Ok {
                            None
                        } else {
                            let e = error_line(status_details_json(&status, types), sse);
                            Some((Ok(e), None))
                        }
                    }
                    Item::Failed(msg) => Some((
                        Ok(error_line(status_json(Code::Unavailable, &msg), sse)),
                        None,
                    )),
                }
            });
        let stream =
            futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(first) })
                .chain(rest);
        Ok(stream_response(
            &headers,
            sse,
            Body::from_stream(stream),
            forward,
        ))
    }

    /// A server stream of `google.api.HttpBody`: each message's bytes in turn,
    /// with the first message's content type. The response starts with the first
    /// message; a failure before it is an error reply, after it the body is cut
    /// short (there is no room for an error in raw bytes).
    pub async fn respond_raw(
        reply: http::Response<tonic::body::Body>,
        output: MessageDescriptor,
        source: RawSource,
        types: &DetailTypes,
        max: usize,
        forward: &[HeaderName],
    ) -> Result<Response, Response> {
        let (parts, body) = reply.into_parts();
        let headers = parts.headers;
        if let Some(status) = header_status(&headers) {
            if status.code() != Code::Ok {
                let mut r = status_error(&status, types);
                metadata_headers(&headers, r.headers_mut(), forward);
                return Err(r);
            }
            let mut r = raw_response("", Bytes::new());
            metadata_headers(&headers, r.headers_mut(), forward);
            return Ok(r);
        }
        let mut frames = Frames {
            body,
            buf: BytesMut::new(),
            trailers: None,
            done: false,
            max,
        };
        let (content_type, first) = match frames.next().await {
            Item::Message(m) => {
                raw_body(&output, source, &m).map_err(|e| error(Code::Internal, &e))?
            }
            Item::End => {
                let status = call_status(&headers, frames.trailers.as_ref());
                let mut r = if status.code() == Code::Ok {
                    raw_response("", Bytes::new())
                } else {
                    status_error(&status, types)
                };
                metadata_headers(&headers, r.headers_mut(), forward);
                return if status.code() == Code::Ok {
                    Ok(r)
                } else {
                    Err(r)
                };
            }
            Item::Failed(msg) => return Err(error(Code::Unavailable, &msg)),
        };
        let head = headers.clone();
        let rest =
            futures_util::stream::unfold(Some((frames, output, head)), move |state| async move {
                let (mut frames, output, head) = state?;
                let why = match frames.next().await {
                    Item::Message(m) => match raw_body(&output, source, &m) {
                        Ok((_, data)) => return Some((Ok(data), Some((frames, output, head)))),
                        Err(e) => e,
                    },
                    Item::End => {
                        let status = call_status(&head, frames.trailers.as_ref());
                        if status.code() == Code::Ok {
                            return None;
                        }
                        format!("{:?}: {}", status.code(), status.message())
                    }
                    Item::Failed(msg) => msg,
                };
                tracing::warn!(error = %why, "a raw stream failed: its body is cut short");
                // Pending once first, so the server flushes what was sent before
                // the body fails and the connection is dropped.
                tokio::task::yield_now().await;
                Some((Err(std::io::Error::other(why)), None))
            });
        let chunks = futures_util::stream::once(async move { Ok(first) }).chain(rest);
        let mut r = raw_response(&content_type, Bytes::new());
        *r.body_mut() = Body::from_stream(chunks);
        metadata_headers(&headers, r.headers_mut(), forward);
        Ok(r)
    }

    fn stream_response(
        headers: &HeaderMap,
        sse: bool,
        body: Body,
        forward: &[HeaderName],
    ) -> Response {
        let mut r = Response::new(body);
        let ct = if sse {
            "text/event-stream"
        } else {
            "application/x-ndjson"
        };
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        metadata_headers(headers, r.headers_mut(), forward);
        r
    }
}
