//! Server streams over WebSocket: a GET request with `Upgrade: websocket` on a
//! server-streaming binding. The request message is built exactly as for REST
//! and the call takes the same dispatch path (gate: auth, metrics with
//! `surface="websocket"`, tracing); each message then goes out as one proto3-JSON
//! text frame.
//!
//! - A call that fails before its first message, within [`FIRST_WAIT`] (a bad
//!   request, unauthenticated, …), refuses the upgrade with the REST error reply
//!   (its HTTP status and `google.rpc.Status` JSON body). The upgrade waits for
//!   the first message that long at most: a quiet stream is still accepted.
//! - A stream that fails later sends a final `{"error": Status}` text frame and
//!   closes with [`close_code`]; a stream that ends well closes with 1000.
//! - Authentication: the `Authorization` header, or, for browsers (which cannot
//!   set headers on a WebSocket), a subprotocol `dotlanth.bearer.<token>` offered
//!   beside the real subprotocol [`SUBPROTOCOL`]; the server echoes only the
//!   real one.
//! - Keepalive: a ping every `ping_interval`; a client that sent nothing (not
//!   even a pong) for `idle_timeout`, or that took no frame for as long, is
//!   closed (1001).
//! - A slow reader holds its own stream only: a service's per-subscriber buffer
//!   (the VM event stream's `vm.event_buffer`) overflows, and the stream ends
//!   with its error (RESOURCE_EXHAUSTED, with the height to resume from).

use super::stream::{Frames, Item};
use super::*;
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The subprotocol a client may offer (and the server then echoes).
pub const SUBPROTOCOL: &str = "dotlanth.json";
/// Prefix of the subprotocol carrying a bearer token.
pub const BEARER_PREFIX: &str = "dotlanth.bearer.";

/// Longest wait for a stream's first message (or failure) before the upgrade.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);

/// Largest message read from a client.
const MAX_INCOMING: usize = 64 * 1024;

/// Longest wait for the client's close after the server's.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// WebSocket settings.
#[derive(Clone, Debug)]
pub struct WebSocketOptions {
    /// Most streams open at once.
    pub max_connections: usize,
    /// A ping this often.
    pub ping_interval: Duration,
    /// Closed after this long without a frame from the client, or a stuck send.
    pub idle_timeout: Duration,
}

impl Default for WebSocketOptions {
    fn default() -> Self {
        WebSocketOptions {
            max_connections: 1024,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// An accepted upgrade, with its connection slot.
pub struct Upgrade {
    upgrade: WebSocketUpgrade,
    permit: OwnedSemaphorePermit,
}

/// How stream messages are rendered.
pub struct Render {
    pub output: MessageDescriptor,
    pub response_body: &'static str,
    pub types: DetailTypes,
    pub max: usize,
    pub options: WebSocketOptions,
}

/// An `Upgrade: websocket` request.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
        })
}

/// Checks the handshake and takes a connection slot (429 when none is free).
pub async fn accept(
    parts: &mut http::request::Parts,
    slots: &Arc<Semaphore>,
) -> Result<Upgrade, Response> {
    let permit = slots.clone().try_acquire_owned().map_err(|_| {
        error(
            Code::ResourceExhausted,
            "too many WebSocket streams are open",
        )
    })?;
    let upgrade = WebSocketUpgrade::from_request_parts(parts, &())
        .await
        .map_err(|rejection| {
            error(
                Code::InvalidArgument,
                &format!("a bad WebSocket handshake: {}", rejection.body_text()),
            )
            .map_status(StatusCode::BAD_REQUEST)
        })?;
    Ok(Upgrade { upgrade, permit })
}

/// The headers of the call: the request's, with a bearer token offered as a
/// subprotocol as the `Authorization` header (unless the request has one).
pub fn call_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    if out.contains_key(header::AUTHORIZATION) {
        return out;
    }
    let token = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(BEARER_PREFIX));
    if let Some(v) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()) {
        out.insert(header::AUTHORIZATION, v);
    }
    out
}

/// The close code of a stream that ended with `code`: 1000 OK; 1008 (policy
/// violation) UNAUTHENTICATED and PERMISSION_DENIED; 1011 (server error)
/// INTERNAL, UNKNOWN and DATA_LOSS; 4000 + the gRPC code for any other.
pub fn close_code(code: Code) -> u16 {
    match code {
        Code::Ok => 1000,
        Code::Unauthenticated | Code::PermissionDenied => 1008,
        Code::Internal | Code::Unknown | Code::DataLoss => 1011,
        other => 4000 + other as u16,
    }
}

/// Upgrades, unless the call failed before its stream started.
pub async fn respond(
    reply: http::Response<tonic::body::Body>,
    upgrade: Upgrade,
    render: Render,
    forward: &[HeaderName],
) -> Result<Response, Response> {
    let (parts, body) = reply.into_parts();
    let headers = parts.headers;
    if let Some(status) = header_status(&headers)
        && status.code() != Code::Ok
    {
        let mut r = status_error(&status, &render.types);
        metadata_headers(&headers, r.headers_mut(), forward);
        return Err(r);
    }
    let mut frames = Frames {
        body,
        buf: BytesMut::new(),
        trailers: None,
        done: false,
        max: render.max,
    };
    let first = match tokio::time::timeout(FIRST_WAIT, frames.next()).await {
        Ok(Item::End) => {
            let status = call_status(&headers, frames.trailers.as_ref());
            if status.code() != Code::Ok {
                let mut r = status_error(&status, &render.types);
                metadata_headers(&headers, r.headers_mut(), forward);
                return Err(r);
            }
            Some(Item::End)
        }
        Ok(Item::Failed(msg)) => return Err(error(Code::Unavailable, &msg)),
        Ok(message) => Some(message),
        Err(_) => None,
    };
    let Upgrade { upgrade, permit } = upgrade;
    let head = headers.clone();
    // Clients send nothing but pongs and the close (anything else only counts
    // as a sign of life): a small cap on what is read.
    let mut r = upgrade
        .max_message_size(MAX_INCOMING)
        .max_frame_size(MAX_INCOMING)
        .protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| async move {
            run(socket, first, frames, head, render).await;
            drop(permit);
        });
    metadata_headers(&headers, r.headers_mut(), forward);
    Ok(r)
}

/// How a socket's stream ended.
enum End {
    /// The call ended with this status.
    Call(tonic::Status),
    /// The client went away (or the socket broke): nothing more to send.
    Gone,
    /// The client was idle too long.
    Idle,
}

async fn send(
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    m: Message,
    within: Duration,
) -> bool {
    matches!(tokio::time::timeout(within, tx.send(m)).await, Ok(Ok(())))
}

/// The item read before the upgrade, if any, else the next one. Cancel-safe.
async fn next_item(first: &mut Option<Item>, frames: &mut Frames) -> Item {
    match first.take() {
        Some(item) => item,
        None => frames.next().await,
    }
}

async fn run(
    socket: WebSocket,
    mut first: Option<Item>,
    mut frames: Frames,
    head: HeaderMap,
    render: Render,
) {
    let (mut tx, mut rx) = socket.split();
    let options = &render.options;
    let mut ping = tokio::time::interval_at(
        Instant::now() + options.ping_interval,
        options.ping_interval,
    );
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    let end = loop {
        tokio::select! {
            item = next_item(&mut first, &mut frames) => match item {
                Item::Message(m) => match message_json(&render.output, &m, render.response_body) {
                    Ok(v) => {
                        if !send(&mut tx, Message::Text(v.to_string().into()), options.idle_timeout).await {
                            break End::Gone;
                        }
                    }
                    Err(e) => break End::Call(tonic::Status::internal(e)),
                },
                Item::End => break End::Call(call_status(&head, frames.trailers.as_ref())),
                Item::Failed(msg) => break End::Call(tonic::Status::unavailable(msg)),
            },
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Close(_))) => {
                    // The reply to the client's close goes out with this flush.
                    let _ = tokio::time::timeout(options.idle_timeout, tx.close()).await;
                    return;
                }
                Some(Ok(_)) => heard = Instant::now(),
                None | Some(Err(_)) => break End::Gone,
            },
            _ = tokio::time::sleep_until(heard + options.idle_timeout) => break End::Idle,
            _ = ping.tick() => {
                if !send(&mut tx, Message::Ping(Bytes::new()), options.idle_timeout).await {
                    break End::Gone;
                }
            }
        }
    };
    let (code, reason) = match end {
        End::Gone => return,
        End::Idle => (1001, "idle timeout".to_string()),
        End::Call(status) => {
            if status.code() != Code::Ok {
                let frame = json!({ "error": status_details_json(&status, &render.types) });
                if !send(
                    &mut tx,
                    Message::Text(frame.to_string().into()),
                    options.idle_timeout,
                )
                .await
                {
                    return;
                }
            }
            (close_code(status.code()), status.message().to_string())
        }
    };
    let close = CloseFrame {
        code,
        reason: truncate(&reason, 123).into(),
    };
    if !send(&mut tx, Message::Close(Some(close)), options.idle_timeout).await {
        return;
    }
    // The close handshake: wait (a while) for the client's close before the
    // connection goes, so that what was sent is read, not reset.
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(m)) = rx.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// At most `max` bytes of `s`, cut at a character boundary (a close reason has
/// room for 123 bytes).
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes() {
        assert_eq!(close_code(Code::Ok), 1000);
        assert_eq!(close_code(Code::Unauthenticated), 1008);
        assert_eq!(close_code(Code::PermissionDenied), 1008);
        assert_eq!(close_code(Code::Internal), 1011);
        assert_eq!(close_code(Code::ResourceExhausted), 4008);
        assert_eq!(close_code(Code::Unavailable), 4014);
    }

    #[test]
    fn bearer_subprotocol_becomes_authorization() {
        let mut h = HeaderMap::new();
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("dotlanth.json, dotlanth.bearer.abc-1"),
        );
        assert_eq!(call_headers(&h)[header::AUTHORIZATION], "Bearer abc-1");
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(call_headers(&h)[header::AUTHORIZATION], "Bearer x");
    }

    #[test]
    fn reasons_are_cut_at_a_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 123), "abc");
    }
}
