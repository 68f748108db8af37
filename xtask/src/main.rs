//! Project automation, run as `cargo xtask <command>`.
//!
//! - `gen [--check] [--protos DIR] [--out DIR]`: generate the API crate from protos.
//! - `lint`, `breaking`, `baseline`: `buf lint` / `buf breaking` against the
//!   committed API baseline, and the deliberate step that moves the baseline.
//! - `test`: install the pinned test tools (buf, a Python venv) when missing or
//!   outdated, then run every test.
//! - `bench grpc|rest|stream`: latency and throughput of the gRPC stack and of
//!   REST; the WebSocket event stream's delivery latency at 1 to 1000 subscribers.
//! - `echo --protos DIR`: every surface of a proto tree over the echo backend.
//! - `docs [--open] [--protos DIR]`: serve (and open) the reference and Swagger UI.

mod bench;
pub mod codegen;
mod docs;
mod echo;
mod tools;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "xtask", about = "Dotlanth project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the API crate (types, stubs, metadata, descriptors) from protos.
    Gen(codegen::GenArgs),
    /// Run `buf lint` on proto/.
    Lint,
    /// Run `buf breaking` on proto/ against the committed API baseline.
    Breaking,
    /// Move the API baseline to the current protos (a deliberate, reviewed step).
    Baseline,
    /// Install the pinned test tools when missing, build the googleapis echo server,
    /// then run `cargo test --workspace --all-targets` (without `--all-targets` when
    /// the arguments select targets).
    Test {
        /// Extra arguments for `cargo test`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Benchmarks.
    Bench(bench::BenchArgs),
    /// Serve every surface of a proto tree over the echo backend.
    Echo(echo::EchoArgs),
    /// Serve the generated docs and Swagger UI (and open them with --open).
    Docs(docs::DocsArgs),
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Gen(args) => codegen::run(args),
        Command::Lint => tools::buf_lint(),
        Command::Breaking => tools::buf_breaking(),
        Command::Baseline => tools::move_baseline(),
        Command::Test { args } => tools::test(&args),
        Command::Bench(args) => bench::run(args),
        Command::Echo(args) => echo::run(args),
        Command::Docs(args) => docs::run(args),
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}
