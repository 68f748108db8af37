//! The HTTP port: `/metrics`, `/healthz`, `/readyz`, `/openapi.json`,
//! `/openapi.yaml`, `/docs`, and the REST surface for every other path. Requests
//! with a `content-type: application/grpc*` go to gRPC (and gRPC-Web) before any
//! routing, so one port can serve everything.

use crate::grpc_layer::MarkGrpcWebLayer;
use crate::metrics::Metrics;
use crate::rest::{Backend, RestGateway};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use dotlanth_meta::Api;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct HttpState {
    /// The generated API whose documents are served.
    pub api: &'static Api,
    /// None when telemetry is off.
    pub metrics: Option<Metrics>,
    /// True once both listeners serve, false again when shutting down.
    pub ready: Arc<AtomicBool>,
    /// The REST surface, for every other path.
    pub rest: Arc<RestGateway>,
    /// Browser origins allowed to call the REST surface.
    pub cors_origins: Vec<HeaderValue>,
    /// Where gRPC and gRPC-Web requests on this port go: the same backend the
    /// REST surface calls.
    pub grpc: Backend,
}

/// The router of the HTTP port.
pub fn router(state: HttpState) -> Router {
    // CORS answers preflights before any routing. The CORS layer takes every
    // OPTIONS request for a preflight, so only real preflights (with
    // `Access-Control-Request-Method`) go through it; any other OPTIONS request is
    // routed like every other method: the REST surface answers 405 with `Allow`
    // (or 404), as its document describes, not an empty 200.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(state.cors_origins.clone()))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("grpc-timeout"),
            HeaderName::from_static("x-grpc-web"),
            HeaderName::from_static("x-user-agent"),
        ])
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
        ])
        .max_age(Duration::from_secs(600));
    let grpc = state.grpc.clone();
    let http = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi_json))
        .route("/openapi.yaml", get(openapi_yaml))
        .route("/docs", get(docs))
        // Swagger UI over the generated document; its assets are compiled in.
        .merge(SwaggerUi::new("/docs/api").config(SwaggerConfig::from("/openapi.json")))
        // After every route: it applies to the routes added so far.
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(rest)
        .with_state(state);
    let app = Router::new().fallback_service(OnePort { grpc, http });
    let with_cors = app.clone().layer(cors);
    let steer = tower::service_fn(move |req: axum::extract::Request| {
        let service = if req.method() == Method::OPTIONS && !is_preflight(&req) {
            app.clone()
        } else {
            with_cors.clone()
        };
        tower::ServiceExt::oneshot(service, req)
    });
    Router::new()
        .fallback_service(steer)
        .layer(axum::middleware::from_fn(preflight_no_content))
}

/// A CORS preflight: OPTIONS with `Access-Control-Request-Method`.
fn is_preflight(req: &axum::extract::Request) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// A CORS preflight is answered with 204 No Content.
async fn preflight_no_content(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let preflight = is_preflight(&req);
    let mut response = next.run(req).await;
    if preflight && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

async fn metrics(State(state): State<HttpState>) -> axum::response::Response {
    match &state.metrics {
        Some(m) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            m.render(),
        )
            .into_response(),
        // Telemetry is off: there is no metrics endpoint.
        None => not_found().await.into_response(),
    }
}

/// The generated OpenAPI document of the REST surface.
async fn openapi_json(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.api.openapi_json,
    )
}

/// The generated HTML reference of the API.
async fn docs(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        state.api.docs_html,
    )
}

/// The same document as YAML.
async fn openapi_yaml(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        state.api.openapi_yaml,
    )
}

async fn healthz() -> impl IntoResponse {
    json(StatusCode::OK, r#"{"status":"ok"}"#)
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    if state.ready.load(Ordering::Acquire) {
        json(StatusCode::OK, r#"{"status":"ready"}"#)
    } else {
        json(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"not ready"}"#)
    }
}

async fn rest(
    State(state): State<HttpState>,
    req: axum::extract::Request,
) -> axum::response::Response {
    state.rest.clone().handle(req).await
}

/// 405 on the built-in paths, as the REST routes answer it.
async fn method_not_allowed(method: Method) -> axum::response::Response {
    let body = serde_json::json!({
        "code": 12,
        "message": format!("method {method} is not allowed here"),
        "details": [],
    });
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn not_found() -> impl IntoResponse {
    json(
        StatusCode::NOT_FOUND,
        r#"{"code":5,"message":"no such path","details":[]}"#,
    )
}

fn json(status: StatusCode, body: &'static str) -> impl IntoResponse {
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}

/// Sends gRPC and gRPC-Web requests (by content type) to the gRPC backend, and
/// everything else to the HTTP routes.
#[derive(Clone)]
struct OnePort {
    grpc: Backend,
    http: Router,
}

impl tower::Service<axum::extract::Request> for OnePort {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        let grpc = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/grpc"));
        if !grpc {
            let http = self.http.clone();
            return Box::pin(async move { http.oneshot(req).await });
        }
        // gRPC-Web is marked for the gate's `surface` label before the translation.
        // (In remote mode the backend is a gRPC channel: the node sees `grpc`.)
        // A failed call becomes its status reply inside the gRPC-Web layer, so a
        // gRPC-Web client gets it translated (a remote backend fails the call
        // with an error, e.g. when the gRPC-Web-text body is not base64).
        let backend = self.grpc.clone();
        let grpc = tower::service_fn(move |req: http::Request<tonic::body::Body>| {
            let backend = backend.clone();
            async move {
                Ok::<_, std::convert::Infallible>(match backend.oneshot(req).await {
                    Ok(r) => r,
                    Err(e) => call_error(e.as_ref()).into_http(),
                })
            }
        });
        let service = MarkGrpcWebLayer.layer(tonic_web::GrpcWebLayer::new().layer(grpc));
        Box::pin(async move {
            let response = match service.oneshot(req.map(tonic::body::Body::new)).await {
                Ok(r) => r,
                Err(e) => tonic::Status::unavailable(format!("the backend is unavailable: {e}"))
                    .into_http(),
            };
            Ok(response.map(axum::body::Body::new))
        })
    }
}

/// The status of a call the backend failed: the status found in the error's
/// causes (e.g. the gRPC-Web layer's own, for a body that is not base64), else
/// UNAVAILABLE.
fn call_error(e: &(dyn std::error::Error + 'static)) -> tonic::Status {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(status) = c.downcast_ref::<tonic::Status>() {
            return status.clone();
        }
        cause = c.source();
    }
    tonic::Status::unavailable(format!("the backend is unavailable: {e}"))
}
