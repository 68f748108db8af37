//! `cargo xtask echo --protos DIR`: every surface of anyone's protos, served over
//! the echo backend (`dotlanth_runtime::echo`).
//!
//! The generator writes a crate for DIR into a scratch workspace under
//! `target/echo/`, next to a two-line server crate; cargo builds it (sharing this
//! workspace's target directory and lock file, so dependencies are reused) and
//! the server runs in the foreground.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Args)]
pub struct EchoArgs {
    /// Root of the proto tree (also its import path; `google/api` and our own
    /// annotations are found in this project's `proto/` when the tree lacks them).
    #[arg(long)]
    protos: PathBuf,
    /// HTTP port: REST, OpenAPI, docs, and gRPC by content type.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// A separate gRPC port (default: any free port).
    #[arg(long)]
    grpc_port: Option<u16>,
    /// Enforce the protos' auth options (tokens from the default config).
    #[arg(long)]
    auth: bool,
    /// Generate only the files under this folder, or this file (relative to
    /// `--protos`, by whole path components; repeatable; may be under `google/`).
    /// Default: every file but `google/**`.
    #[arg(long)]
    only: Vec<String>,
    /// OpenAPI version of the served document: 3.0 (3.0.3) or 3.1 (3.1.0).
    #[arg(long, default_value = "3.0")]
    openapi: dotlanth_codegen::emit::openapi::Version,
    /// Generate and build, print the server binary's path, do not run it.
    #[arg(long)]
    build_only: bool,
}

pub fn run(args: EchoArgs) -> Result<()> {
    let root = crate::root();
    let protos = fs::canonicalize(&args.protos)
        .with_context(|| format!("no proto tree at {}", args.protos.display()))?;
    let binary = build(&root, &protos, &args.only, args.openapi)?;
    if args.build_only {
        println!("{}", binary.display());
        return Ok(());
    }
    let mut cmd = Command::new(&binary);
    cmd.arg("--port").arg(args.port.to_string());
    if let Some(p) = args.grpc_port {
        cmd.arg("--grpc-port").arg(p.to_string());
    }
    if args.auth {
        cmd.arg("--auth");
    }
    println!(
        "echo server for {} on http://127.0.0.1:{} (REST, gRPC, /openapi.json, /docs, /docs/api/)",
        protos.display(),
        args.port
    );
    let status = cmd.status().context("starting the echo server")?;
    if !status.success() {
        bail!("the echo server exited with {status}");
    }
    Ok(())
}

/// Generates the scratch workspace for `protos` and builds its server; returns
/// the binary.
pub fn build(
    root: &Path,
    protos: &Path,
    only: &[String],
    openapi: dotlanth_codegen::emit::openapi::Version,
) -> Result<PathBuf> {
    let name = scratch_name(protos);
    let scratch = root.join("target/echo").join(&name);
    // Package and binary names are unique per tree: cargo keys a workspace
    // member's artifacts by name and version, not by path, and every scratch
    // workspace shares the target directory.
    let api_crate = format!("echo-api-{name}");
    let server = format!("echo-server-{name}");
    let mut options = crate::codegen::options(&api_crate)?;
    options.openapi = openapi;
    let files =
        crate::codegen::generate_with_includes(protos, &[root.join("proto")], &options, only)?;
    crate::codegen::write(&scratch.join("api"), &files)?;
    write_if_changed(&scratch.join("Cargo.toml"), &workspace_manifest(root)?)?;
    write_if_changed(
        &scratch.join("server/Cargo.toml"),
        &format!(
            "[package]\nname = \"{server}\"\nversion.workspace = true\nedition.workspace = true\n\
             publish = false\n\n[dependencies]\ndotlanth-runtime.workspace = true\n\
             echo-api = {{ path = \"../api\", package = \"{api_crate}\" }}\n"
        ),
    )?;
    write_if_changed(
        &scratch.join("server/src/main.rs"),
        "//! The echo server over the generated API crate.\n\
         fn main() -> std::process::ExitCode {\n    dotlanth_runtime::echo::main(&echo_api::API)\n}\n",
    )?;
    // The project's lock file: the same versions, so the shared target directory
    // already holds most of what the server needs.
    let lock = scratch.join("Cargo.lock");
    if !lock.exists() {
        fs::copy(root.join("Cargo.lock"), &lock)?;
    }
    println!("building the echo server in {}...", scratch.display());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--bin", &server, "--manifest-path"])
        .arg(scratch.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", root.join("target"))
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("building the echo server failed");
    }
    Ok(root.join("target/debug").join(server))
}

/// A name for the tree, usable in package names: its folder's name (lowercase
/// ASCII letters and digits) and a hash of its path.
fn scratch_name(protos: &Path) -> String {
    let base: String = protos
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect();
    // FNV-1a: stable across runs and platforms.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in protos.to_string_lossy().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("{base}{:08x}", h as u32)
}

/// The scratch workspace: this workspace's package settings, dependency versions
/// and profiles, with path dependencies made absolute.
fn workspace_manifest(root: &Path) -> Result<String> {
    let text = fs::read_to_string(root.join("Cargo.toml"))?;
    let manifest: toml::Table = text.parse().context("parsing Cargo.toml")?;
    let ws = manifest
        .get("workspace")
        .and_then(|w| w.as_table())
        .context("Cargo.toml has no [workspace]")?;
    let mut deps = ws
        .get("dependencies")
        .and_then(|d| d.as_table())
        .cloned()
        .unwrap_or_default();
    for (_, dep) in deps.iter_mut() {
        if let Some(path) = dep.get_mut("path") {
            let abs = root.join(path.as_str().unwrap_or_default());
            *path = toml::Value::String(abs.to_string_lossy().into_owned());
        }
    }
    let mut runtime = toml::Table::new();
    runtime.insert(
        "path".into(),
        toml::Value::String(root.join("runtime").to_string_lossy().into_owned()),
    );
    deps.insert("dotlanth-runtime".into(), toml::Value::Table(runtime));

    let mut workspace = toml::Table::new();
    workspace.insert("resolver".into(), "3".into());
    workspace.insert(
        "members".into(),
        toml::Value::Array(vec!["api".into(), "server".into()]),
    );
    if let Some(package) = ws.get("package") {
        workspace.insert("package".into(), package.clone());
    }
    workspace.insert("dependencies".into(), toml::Value::Table(deps));
    let mut out = toml::Table::new();
    out.insert("workspace".into(), toml::Value::Table(workspace));
    if let Some(profile) = manifest.get("profile") {
        out.insert("profile".into(), profile.clone());
    }
    let mut text = String::new();
    writeln!(
        text,
        "# Written by `cargo xtask echo`; regenerated on every run."
    )?;
    text.push_str(&toml::to_string(&out)?);
    Ok(text)
}

fn write_if_changed(path: &Path, contents: &str) -> Result<()> {
    if fs::read_to_string(path).is_ok_and(|c| c == contents) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}
