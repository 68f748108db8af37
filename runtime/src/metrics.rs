//! Prometheus metrics in the go-grpc-prometheus naming, shared by every surface,
//! plus a `surface` label telling which one a call came in on (see
//! [`crate::gate::Surface`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Labels of a call that has not finished.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `package.Service`
    pub grpc_service: String,
    /// `Method`
    pub grpc_method: String,
    /// `unary`, `server_stream`, ...
    pub grpc_type: String,
    /// The surface the call came in on: `grpc`, `grpc_web`, `rest`.
    pub surface: String,
}

/// Labels of a finished call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandledLabels {
    /// `package.Service`
    pub grpc_service: String,
    /// `Method`
    pub grpc_method: String,
    /// `unary`, `server_stream`, ...
    pub grpc_type: String,
    /// The surface the call came in on: `grpc`, `grpc_web`, `rest`.
    pub surface: String,
    /// Canonical code name, e.g. `OK`, `NOT_FOUND`.
    pub grpc_code: String,
}

/// The registry and the call metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// `grpc_server_started_total`
    pub started: Family<CallLabels, Counter>,
    /// `grpc_server_handled_total`
    pub handled: Family<HandledLabels, Counter>,
    /// `grpc_server_handling_seconds`
    pub handling: Family<CallLabels, Histogram>,
}

/// go-grpc-prometheus default buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let started = Family::<CallLabels, Counter>::default();
        let handled = Family::<HandledLabels, Counter>::default();
        let handling =
            Family::<CallLabels, Histogram>::new_with_constructor(|| Histogram::new(BUCKETS));
        registry.register(
            "grpc_server_started",
            "RPCs started on the server",
            started.clone(),
        );
        registry.register(
            "grpc_server_handled",
            "RPCs completed on the server, regardless of success or failure",
            handled.clone(),
        );
        registry.register(
            "grpc_server_handling_seconds",
            "Response latency (seconds) of RPCs handled by the server",
            handling.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            started,
            handled,
            handling,
        }
    }

    /// The Prometheus/OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The canonical name of a gRPC code (`NOT_FOUND`).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
