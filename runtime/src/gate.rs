//! The one dispatch path every surface goes through before a service method runs:
//! trace context, authentication and authorization, metrics and the call log.
//!
//! A surface adapter (today the gRPC layer in [`crate::grpc_layer`], which the
//! gRPC-Web translation and the in-process REST gateway also go through; GraphQL
//! and WebSocket adapters later) resolves the [`MethodInfo`] of the call, calls
//! [`Gate::admit`], runs the service on success, and reports the final status
//! with [`Call::finish`].

use crate::auth::{Authenticator, Principal};
use crate::metrics::{CallLabels, HandledLabels, Metrics, code_name};
use crate::telemetry::TraceContext;
use dotlanth_meta::MethodInfo;
use http::HeaderMap;
use std::time::Instant;
use tonic::{Code, Status};
use tracing::Span;

/// The surface a call came in on: the `surface` label of the call metrics and
/// the `surface` field of the access log.
///
/// Carried as a request extension (never a header, so clients cannot choose it):
/// the REST gateway marks its in-process calls [`Surface::Rest`] (or
/// [`Surface::WebSocket`] for a WebSocket upgrade), a layer in
/// front of the gRPC-Web translation marks [`Surface::GrpcWeb`]
/// ([`crate::grpc_layer::MarkGrpcWebLayer`]); unmarked calls are
/// [`Surface::Grpc`]. A REST gateway in remote mode reaches its node over a
/// plain gRPC channel, so the node counts those calls as `grpc`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Surface {
    /// gRPC over HTTP/2 (also every call a remote-mode REST gateway forwards).
    #[default]
    Grpc,
    /// gRPC-Web, translated in process.
    GrpcWeb,
    /// The REST/JSON surface, transcoded in process.
    Rest,
    /// A server stream over a WebSocket upgrade of a REST binding.
    WebSocket,
}

impl Surface {
    /// The label value: `grpc`, `grpc_web`, `rest`, `websocket`.
    pub const fn label(self) -> &'static str {
        match self {
            Surface::Grpc => "grpc",
            Surface::GrpcWeb => "grpc_web",
            Surface::Rest => "rest",
            Surface::WebSocket => "websocket",
        }
    }
}

/// Shared by all surfaces.
#[derive(Clone)]
pub struct Gate {
    auth: Option<Authenticator>,
    metrics: Option<Metrics>,
    access_log: bool,
}

impl Gate {
    /// `auth`: enforce tokens (None = everyone is admitted); `metrics`: record
    /// metrics and trace spans (None = neither); `access_log`: one `handled` log
    /// line per call.
    pub fn new(auth: Option<Authenticator>, metrics: Option<Metrics>, access_log: bool) -> Self {
        Gate {
            auth,
            metrics,
            access_log,
        }
    }

    /// Starts a call of `method` that came in on `surface`. On `Err`, answer with
    /// the status; the call has already been recorded as finished.
    pub fn admit(
        &self,
        method: &'static MethodInfo,
        surface: Surface,
        headers: &HeaderMap,
    ) -> Result<Call, Status> {
        let mut call = self.begin(
            method.service,
            method.method,
            method.kind.label(),
            surface,
            headers,
        );
        let decision = match &self.auth {
            Some(auth) => call.span.in_scope(|| auth.authorize(method, headers)),
            None => Ok(None),
        };
        match decision {
            Ok(principal) => {
                call.principal = principal;
                Ok(call)
            }
            Err(status) => {
                call.finish(status.code());
                Err(status)
            }
        }
    }

    /// Starts a call of an infrastructure method without metadata (health,
    /// reflection): public, but observed like the others.
    pub fn admit_public(
        &self,
        service: &str,
        method: &str,
        kind: &'static str,
        surface: Surface,
        headers: &HeaderMap,
    ) -> Call {
        self.begin(service, method, kind, surface, headers)
    }

    fn begin(
        &self,
        service: &str,
        method: &str,
        kind: &'static str,
        surface: Surface,
        headers: &HeaderMap,
    ) -> Call {
        let Some(metrics) = &self.metrics else {
            return Call {
                observed: None,
                span: Span::none(),
                principal: None,
                done: false,
            };
        };
        let ctx = TraceContext::from_traceparent(
            headers.get("traceparent").and_then(|v| v.to_str().ok()),
        );
        let span = tracing::info_span!(
            "rpc",
            trace_id = %ctx.trace_id,
            span_id = %ctx.span_id,
            parent_span_id = ctx.parent_span_id.as_deref().unwrap_or(""),
            rpc.service = %service,
            rpc.method = %method,
        );
        let labels = CallLabels {
            grpc_service: service.to_string(),
            grpc_method: method.to_string(),
            grpc_type: kind.to_string(),
            surface: surface.label().to_string(),
        };
        metrics.started.get_or_create(&labels).inc();
        Call {
            observed: Some(Observed {
                metrics: metrics.clone(),
                labels,
                start: Instant::now(),
                access_log: self.access_log,
            }),
            span,
            principal: None,
            done: false,
        }
    }
}

struct Observed {
    metrics: Metrics,
    labels: CallLabels,
    start: Instant,
    access_log: bool,
}

/// A call in progress. Dropping it unfinished records `CANCELLED`.
pub struct Call {
    observed: Option<Observed>,
    /// The call's span (carries `trace_id` and `span_id`); run the service in it.
    pub span: Span,
    /// The authenticated caller, if any.
    pub principal: Option<Principal>,
    done: bool,
}

impl Call {
    /// Records the final status of the call.
    pub fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let Some(o) = &self.observed else {
            return;
        };
        let elapsed = o.start.elapsed();
        o.metrics
            .handled
            .get_or_create(&HandledLabels {
                grpc_service: o.labels.grpc_service.clone(),
                grpc_method: o.labels.grpc_method.clone(),
                grpc_type: o.labels.grpc_type.clone(),
                surface: o.labels.surface.clone(),
                grpc_code: code_name(code).to_string(),
            })
            .inc();
        o.metrics
            .handling
            .get_or_create(&o.labels)
            .observe(elapsed.as_secs_f64());
        if !o.access_log {
            return;
        }
        let caller = self
            .principal
            .as_ref()
            .map(|p| p.name.as_str())
            .unwrap_or("");
        self.span.in_scope(|| {
            tracing::info!(
                grpc_code = code_name(code),
                surface = %o.labels.surface,
                elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                caller,
                "handled"
            )
        });
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}
