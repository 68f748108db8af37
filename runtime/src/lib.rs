//! The Dotlanth server as a library: configuration, the gate (auth, metrics,
//! tracing) and the surfaces (gRPC, gRPC-Web, REST/JSON, documents) over any
//! generated API ([`dotlanth_meta::Api`]). The `dotlanth` binary serves our VM
//! API over the VM core ([`server::serve`]); [`echo`] serves anyone's protos
//! over an echo backend, through the same code.

pub mod auth;
pub mod config;
pub mod echo;
pub mod gate;
pub mod grpc_layer;
pub mod http;
pub mod metrics;
pub mod rest;
pub mod server;
pub mod services;
pub mod telemetry;
