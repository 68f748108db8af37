//! The gRPC adapter of the [`Gate`]: a tower layer in front of the tonic routes.
//!
//! It looks the request path up in the generated method table (or the short list
//! of infrastructure methods; anything else is `UNIMPLEMENTED`), admits the call
//! (answering `UNAUTHENTICATED`/`PERMISSION_DENIED` itself), runs the service
//! inside the call's span, and watches the response for its `grpc-status`
//! (headers for trailers-only answers, trailers otherwise) to finish the call.
//!
//! The surface of a call (the `surface` metric label) is the [`Surface`]
//! request extension, `grpc` when absent: [`MarkGrpcWebLayer`] sets it in front
//! of the gRPC-Web translation, the REST gateway on its in-process calls.

use crate::gate::{Call, Gate, Surface};
use bytes::Bytes;
use dotlanth_meta::Api;
use http::{HeaderMap, Request, Response};
use http_body::{Body as HttpBody, Frame};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service};
use tracing::Instrument;

/// The standard infrastructure methods served beside the API (gRPC health and
/// reflection, from their own crates): public, observed like the API methods.
/// Exact paths, so callers cannot invent metric labels.
const INFRASTRUCTURE: &[(&str, &str, &str, &str)] = &[
    (
        "/grpc.health.v1.Health/Check",
        "grpc.health.v1.Health",
        "Check",
        "unary",
    ),
    (
        "/grpc.health.v1.Health/Watch",
        "grpc.health.v1.Health",
        "Watch",
        "server_stream",
    ),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1.ServerReflection",
        "ServerReflectionInfo",
        "bidi_stream",
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection",
        "ServerReflectionInfo",
        "bidi_stream",
    ),
];

/// Wraps tonic's routes with the gate.
#[derive(Clone)]
pub struct GateLayer {
    gate: Gate,
    api: &'static Api,
}

impl GateLayer {
    /// A layer admitting calls of `api`'s methods through `gate`.
    pub fn new(gate: Gate, api: &'static Api) -> Self {
        GateLayer { gate, api }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = GateService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            inner,
            gate: self.gate.clone(),
            api: self.api,
        }
    }
}

/// See [`GateLayer`].
#[derive(Clone)]
pub struct GateService<S> {
    inner: S,
    gate: Gate,
    api: &'static Api,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GateService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // Take the service that was driven to readiness, leave a fresh clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = req.uri().path();
        let surface = req
            .extensions()
            .get::<Surface>()
            .copied()
            .unwrap_or_default();
        let call = match self.api.method(path) {
            Some(method) => self.gate.admit(method, surface, req.headers()),
            None => match INFRASTRUCTURE.iter().find(|(p, ..)| *p == path) {
                Some((_, service, method, kind)) => {
                    Ok(self
                        .gate
                        .admit_public(service, method, kind, surface, req.headers()))
                }
                // Fail closed: nothing unlisted reaches a service, and unknown
                // paths leave no trace in the metrics.
                None => {
                    let shown: String = path.chars().take(200).collect();
                    let status = tonic::Status::unimplemented(format!("unknown method {shown}"));
                    return Box::pin(async move { Ok(status.into_http()) });
                }
            },
        };
        match call {
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
            Ok(mut call) => {
                let span = call.span.clone();
                // Services can see who is calling (`Request::extensions`).
                if let Some(principal) = &call.principal {
                    req.extensions_mut().insert(principal.clone());
                }
                Box::pin(
                    async move {
                        let response = inner.call(req).await?;
                        let (parts, body) = response.into_parts();
                        if let Some(code) = grpc_status(&parts.headers) {
                            call.finish(code);
                        }
                        Ok(Response::from_parts(
                            parts,
                            Body::new(ObservedBody {
                                inner: Box::pin(body),
                                call,
                            }),
                        ))
                    }
                    .instrument(span),
                )
            }
        }
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    Some(Code::from_i32(value.parse().ok()?))
}

/// A response body that finishes its call when the trailers (or the end) arrive.
struct ObservedBody<B> {
    inner: Pin<Box<B>>,
    call: Call,
}

impl<B: HttpBody<Data = Bytes>> HttpBody for ObservedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = this.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    this.call.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => this.call.finish(Code::Internal),
            // A gRPC response always ends with trailers; reaching the end first is odd.
            Poll::Ready(None) => this.call.finish(Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Marks gRPC-Web requests ([`Surface::GrpcWeb`]) before the gRPC-Web
/// translation rewrites their content type: goes right outside
/// `tonic_web::GrpcWebLayer`, on every port that translates gRPC-Web.
#[derive(Clone, Copy, Debug, Default)]
pub struct MarkGrpcWebLayer;

impl<S> Layer<S> for MarkGrpcWebLayer {
    type Service = MarkGrpcWeb<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MarkGrpcWeb { inner }
    }
}

/// See [`MarkGrpcWebLayer`].
#[derive(Clone, Debug)]
pub struct MarkGrpcWeb<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for MarkGrpcWeb<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if is_grpc_web(req.headers()) {
            req.extensions_mut().insert(Surface::GrpcWeb);
        } else {
            // Only the REST gateway marks REST calls, and never through a port.
            req.extensions_mut().remove::<Surface>();
        }
        self.inner.call(req)
    }
}

/// `content-type: application/grpc-web…` (any of the four gRPC-Web types).
fn is_grpc_web(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            const GRPC_WEB: &str = "application/grpc-web";
            ct.get(..GRPC_WEB.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(GRPC_WEB))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::ServiceExt;

    async fn surface_seen(content_type: Option<&str>, preset: Option<Surface>) -> Option<Surface> {
        let inner = tower::service_fn(|req: Request<()>| async move {
            Ok::<_, Infallible>(req.extensions().get::<Surface>().copied())
        });
        let mut req = Request::new(());
        if let Some(ct) = content_type {
            req.headers_mut()
                .insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
        }
        if let Some(s) = preset {
            req.extensions_mut().insert(s);
        }
        MarkGrpcWebLayer.layer(inner).oneshot(req).await.unwrap()
    }

    #[tokio::test]
    async fn grpc_web_requests_are_marked() {
        for ct in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpc-web-text",
            "application/grpc-web-text+proto",
            "Application/gRPC-Web+proto",
        ] {
            assert_eq!(
                surface_seen(Some(ct), None).await,
                Some(Surface::GrpcWeb),
                "{ct}"
            );
        }
        for ct in [None, Some("application/grpc"), Some("application/json")] {
            assert_eq!(surface_seen(ct, None).await, None, "{ct:?}");
        }
        // Nothing arriving on a port is a REST call.
        assert_eq!(
            surface_seen(Some("application/grpc"), Some(Surface::Rest)).await,
            None
        );
    }
}
