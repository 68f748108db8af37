//! Server assembly: one process, two ports, one VM.
//!
//! gRPC port: CORS → gRPC-Web marking and translation → [`GateLayer`] → tonic
//! routes (health, reflection v1 and v1alpha, the API services). HTTP port:
//! [`crate::http`].

use crate::auth::Authenticator;
use crate::config::Config;
use crate::gate::Gate;
use crate::grpc_layer::{GateLayer, MarkGrpcWebLayer};
use crate::http::{HttpState, router};
use crate::metrics::Metrics;
use crate::rest::request::Strictness;
use crate::rest::{RestGateway, RestOptions};
use crate::services::{monitoring::Monitoring, runtime::Runtime, vm::Dots};
use anyhow::{Context, Result};
use dotlanth_api::dotlanth::monitoring::v1::monitoring_service_server::MonitoringServiceServer;
use dotlanth_api::dotlanth::runtime::v1::runtime_service_server::RuntimeServiceServer;
use dotlanth_api::dotlanth::vm::v1::vm_service_server::VmServiceServer;
use dotlanth_meta::Api;
use http::HeaderValue;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Runs the VM node until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> Result<()> {
    let vm_config = config.vm_config();
    let data_dir = vm_config.data_dir.clone();
    let vm = tokio::task::spawn_blocking(move || dotlanth_vm::Vm::open(vm_config))
        .await?
        .with_context(|| format!("opening the VM store in {}", data_dir.display()))?;
    let producer = vm.spawn_block_producer();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let limit = config.server.max_message_bytes;
    let services = Routes::builder()
        .routes()
        .add_service(RuntimeServiceServer::new(Runtime).max_decoding_message_size(limit))
        .add_service(VmServiceServer::new(Dots::new(vm.clone())).max_decoding_message_size(limit))
        .add_service(
            MonitoringServiceServer::new(Monitoring::new(vm.clone(), shutdown_rx.clone()))
                .max_decoding_message_size(limit),
        );
    let result = run(
        &config,
        &dotlanth_api::API,
        services,
        shutdown_tx,
        shutdown_rx,
    )
    .await;
    producer.abort();
    drop(vm);
    result
}

/// Serves `api` on both ports until SIGTERM or Ctrl-C (or until a listener
/// fails): `services` are the tonic routes implementing it; health and
/// reflection are added here, the gate goes in front of all of them, and the
/// REST surface calls the same gated routes in process. `shutdown_tx` is set
/// when stopping (services holding `shutdown_rx` end their streams).
pub async fn run(
    config: &Config,
    api: &'static Api,
    services: Routes,
    shutdown_tx: watch::Sender<bool>,
    shutdown_rx: watch::Receiver<bool>,
) -> Result<()> {
    let metrics = config.telemetry.enabled.then(Metrics::new);
    let auth = config
        .auth
        .enabled
        .then(|| Authenticator::new(&config.auth));
    if !config.auth.enabled {
        tracing::warn!("authentication is disabled: every method is open to anyone");
    }
    let gate = Gate::new(auth, metrics.clone(), config.telemetry.access_log);

    let grpc_listener = TcpListener::bind(config.server.grpc_addr)
        .await
        .with_context(|| format!("binding gRPC on {}", config.server.grpc_addr))?;
    let http_listener = TcpListener::bind(config.server.http_addr)
        .await
        .with_context(|| format!("binding HTTP on {}", config.server.http_addr))?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let ready = Arc::new(AtomicBool::new(false));

    let routes = with_infrastructure(api, services, &shutdown_rx).await?;
    let backend = crate::rest::in_process(GateLayer::new(gate.clone(), api).layer(routes.clone()));
    let rest = RestGateway::new(api, backend.clone(), rest_options(config))?;
    let grpc = grpc_server(
        config,
        api,
        routes,
        gate,
        grpc_listener,
        shutdown_rx.clone(),
    );
    let http_state = HttpState {
        api,
        metrics,
        ready: ready.clone(),
        rest,
        cors_origins: cors_origins(config),
        grpc: backend,
    };
    let mut http_shutdown = shutdown_rx.clone();
    let http = tokio::spawn(async move {
        axum::serve(http_listener, router(http_state))
            .with_graceful_shutdown(async move {
                let _ = http_shutdown.wait_for(|s| *s).await;
            })
            .await
    });

    ready.store(true, Ordering::Release);
    tracing::info!(grpc = %grpc_addr, http = %http_addr, api = api.crate_name, data_dir = %config.storage.data_dir.display(), "dotlanth serving");

    let (mut grpc, mut http) = (grpc, http);
    // Run until a signal, or until a listener fails (then exit with its error).
    let failure = tokio::select! {
        _ = shutdown_signal() => None,
        r = &mut grpc => Some(format!("the gRPC server stopped: {}", task_outcome(r))),
        r = &mut http => Some(format!("the HTTP server stopped: {}", task_outcome(r))),
    };
    tracing::info!("shutting down");
    ready.store(false, Ordering::Release);
    let _ = shutdown_tx.send(true);
    let grace = Duration::from_millis(config.server.shutdown_grace_ms);
    let drained = tokio::time::timeout(grace, async {
        if !grpc.is_finished() {
            let _ = (&mut grpc).await;
        }
        if !http.is_finished() {
            let _ = (&mut http).await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("in-flight calls did not finish within the grace period");
    }
    if let Some(failure) = failure {
        anyhow::bail!(failure);
    }
    tracing::info!("stopped");
    Ok(())
}

/// Remote mode: only the HTTP port (REST, OpenAPI, health), forwarding every call
/// over gRPC to the node at `backend`, whose gate authenticates, counts and
/// traces it. Runs until SIGTERM or Ctrl-C.
pub async fn gateway(config: Config, api: &'static Api, backend: &str) -> Result<()> {
    let channel = crate::rest::remote(backend)?;
    let rest = RestGateway::new(api, channel.clone(), rest_options(&config))?;
    let listener = TcpListener::bind(config.server.http_addr)
        .await
        .with_context(|| format!("binding HTTP on {}", config.server.http_addr))?;
    let addr = listener.local_addr()?;
    let ready = Arc::new(AtomicBool::new(true));
    let state = HttpState {
        api,
        metrics: None,
        ready: ready.clone(),
        rest,
        cors_origins: cors_origins(&config),
        grpc: channel,
    };
    tracing::info!(http = %addr, backend, "dotlanth gateway serving");
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let serving = tokio::spawn(async move {
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            })
            .await
    });
    shutdown_signal().await;
    ready.store(false, Ordering::Release);
    let _ = stop_tx.send(true);
    // Open streams are fed by the node and would never end on their own.
    let grace = Duration::from_millis(config.server.shutdown_grace_ms);
    if tokio::time::timeout(grace, serving).await.is_err() {
        tracing::warn!("in-flight calls did not finish within the grace period");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The configured browser origins (validated by `Config::load`).
fn cors_origins(config: &Config) -> Vec<HeaderValue> {
    config
        .server
        .cors_allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect()
}

fn rest_options(config: &Config) -> RestOptions {
    RestOptions {
        max_body_bytes: config.server.max_message_bytes,
        strictness: Strictness {
            strict: config.rest.strict,
            plus_as_space: config.rest.query_plus_as_space,
        },
        forward_headers: config
            .rest
            .forward_headers
            .iter()
            .filter_map(|h| http::HeaderName::from_bytes(h.as_bytes()).ok())
            .collect(),
        websocket: crate::rest::WebSocketOptions {
            max_connections: config.rest.websocket_max_connections,
            ping_interval: std::time::Duration::from_millis(config.rest.websocket_ping_interval_ms),
            idle_timeout: std::time::Duration::from_millis(config.rest.websocket_idle_timeout_ms),
        },
    }
}

/// How a server task ended, for the log.
fn task_outcome<E: std::fmt::Display>(r: Result<Result<(), E>, tokio::task::JoinError>) -> String {
    match r {
        Ok(Ok(())) => "without an error".into(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    }
}

/// `services` plus health (one status per service of `api`) and reflection
/// (v1 and v1alpha, over `api`'s descriptor set): served on the gRPC port and
/// called in process by the REST surface.
async fn with_infrastructure(
    api: &'static Api,
    services: Routes,
    shutdown: &watch::Receiver<bool>,
) -> Result<Routes> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    set_health(api, &health_reporter, tonic_health::ServingStatus::Serving).await;
    // On shutdown, tell health checkers first (load balancers stop sending calls).
    let mut stopping = shutdown.clone();
    tokio::spawn(async move {
        if stopping.wait_for(|s| *s).await.is_ok() {
            set_health(
                api,
                &health_reporter,
                tonic_health::ServingStatus::NotServing,
            )
            .await;
        }
    });
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(api.file_descriptor_set)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1().context("building reflection v1")?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("building reflection v1alpha")?;
    Ok(services
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .prepare())
}

/// The gRPC port: CORS, gRPC-Web translation and the gate over the routes.
fn grpc_server(
    config: &Config,
    api: &'static Api,
    routes: Routes,
    gate: Gate,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<(), tonic::transport::Error>> {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(cors_origins(config)))
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        // Listed, not `*`: a wildcard never covers `authorization` (Fetch spec).
        .allow_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            http::HeaderName::from_static("x-grpc-web"),
            http::HeaderName::from_static("x-user-agent"),
            http::HeaderName::from_static("grpc-timeout"),
            http::HeaderName::from_static("traceparent"),
        ])
        .max_age(Duration::from_secs(600))
        .expose_headers([
            http::HeaderName::from_static("grpc-status"),
            http::HeaderName::from_static("grpc-message"),
            http::HeaderName::from_static("grpc-status-details-bin"),
        ]);

    let router = tonic::transport::Server::builder()
        .accept_http1(true)
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .concurrency_limit_per_connection(config.server.max_concurrent_calls_per_connection)
        .layer(cors)
        // Tells the gate which calls were gRPC-Web, before the translation hides it.
        .layer(MarkGrpcWebLayer)
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(GateLayer::new(gate, api))
        .add_routes(routes);
    tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await
    })
}

/// Sets the status of the whole server (`""`) and of every API service.
async fn set_health(
    api: &Api,
    reporter: &tonic_health::server::HealthReporter,
    status: tonic_health::ServingStatus,
) {
    reporter.set_service_status("", status).await;
    for service in api.services {
        reporter.set_service_status(*service, status).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
