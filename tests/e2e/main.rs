//! Black-box end-to-end tests: each test starts the real `dotlanth` binary on its
//! own loopback ports and data directory, and talks to it as a client would
//! (tonic clients, raw gRPC frames, HTTP, and `buf curl`).

mod harness;

mod grpc;

mod api;
mod attack;
mod browser;
mod buf;
mod conformance;
mod events;
mod lifecycle;
mod observability;
mod openapi;
mod python;
mod real_world;
mod rest;
mod rest_features;
mod schemathesis;
mod websocket;
