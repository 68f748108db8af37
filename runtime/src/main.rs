//! `dotlanth`: the Dotlanth API server.

use clap::{Parser, Subcommand};
use dotlanth_runtime::{config, server, telemetry};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "dotlanth", version, about = "The Dotlanth VM API server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC (and gRPC-Web) and HTTP over one VM.
    Serve {
        /// Configuration file (default: the embedded config/default.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// gRPC listen address.
        #[arg(long)]
        grpc_addr: Option<SocketAddr>,
        /// HTTP listen address.
        #[arg(long)]
        http_addr: Option<SocketAddr>,
        /// Data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Serve only REST/JSON (and OpenAPI), forwarding every call over gRPC to a
    /// `dotlanth serve` node: the gateway apart from the VM.
    Gateway {
        /// The node's gRPC address, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        backend: String,
        /// Configuration file (default: the embedded config/default.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// HTTP listen address.
        #[arg(long)]
        http_addr: Option<SocketAddr>,
    },
}

fn main() -> ExitCode {
    let (file, overrides, backend) = match Cli::parse().command {
        Command::Serve {
            config,
            grpc_addr,
            http_addr,
            data_dir,
        } => (
            config,
            config::Overrides {
                grpc_addr,
                http_addr,
                data_dir,
            },
            None,
        ),
        Command::Gateway {
            backend,
            config,
            http_addr,
        } => (
            config,
            config::Overrides {
                http_addr,
                ..Default::default()
            },
            Some(backend),
        ),
    };
    let config = match config::Config::load(file.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dotlanth: {e:#}");
            return ExitCode::from(2);
        }
    };
    let _log_guard = telemetry::init_logging(&config.telemetry);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dotlanth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match backend {
        None => runtime.block_on(server::serve(config)),
        Some(backend) => runtime.block_on(server::gateway(config, &dotlanth_api::API, &backend)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "server failed");
            ExitCode::FAILURE
        }
    }
}
