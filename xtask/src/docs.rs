//! `cargo xtask docs [--open]`: serve the generated reference (`/docs`), Swagger
//! UI (`/docs/api/`) and the OpenAPI document of our API — or, with `--protos DIR`,
//! of any proto tree over the echo backend — and open them in a browser.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct DocsArgs {
    /// Open the pages in the default browser once the server is ready.
    #[arg(long)]
    open: bool,
    /// HTTP port.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Serve the docs of this proto tree (over the echo backend) instead of ours.
    #[arg(long)]
    protos: Option<PathBuf>,
}

pub fn run(args: DocsArgs) -> Result<()> {
    let root = crate::root();
    let mut server: Child = match &args.protos {
        Some(protos) => {
            let protos = std::fs::canonicalize(protos)
                .with_context(|| format!("no proto tree at {}", protos.display()))?;
            let binary = crate::echo::build(&root, &protos, &[], Default::default())?;
            Command::new(binary)
                .args(["--port", &args.port.to_string()])
                .spawn()
                .context("starting the echo server")?
        }
        None => {
            // The same build as the test command's, so nothing is built twice.
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let built = Command::new(cargo)
                .args(["build", "--quiet", "--workspace", "--all-targets"])
                .current_dir(&root)
                .status()
                .context("running cargo")?;
            if !built.success() {
                bail!("building dotlanth failed");
            }
            Command::new(root.join("target/debug/dotlanth"))
                .arg("serve")
                .arg("--http-addr")
                .arg(format!("127.0.0.1:{}", args.port))
                .args(["--grpc-addr", "127.0.0.1:0", "--data-dir"])
                .arg(root.join("target/docs-data"))
                .spawn()
                .context("starting dotlanth")?
        }
    };
    let base = format!("http://127.0.0.1:{}", args.port);
    if !wait_ready(args.port, &mut server)? {
        let _ = server.kill();
        bail!("the server did not become ready on {base}");
    }
    println!("reference: {base}/docs\nSwagger UI: {base}/docs/api/\nOpenAPI: {base}/openapi.yaml");
    if args.open {
        open(&format!("{base}/docs"));
        open(&format!("{base}/docs/api/"));
    }
    println!("serving until Ctrl-C");
    let status = server.wait()?;
    if !status.success() {
        bail!("the server exited with {status}");
    }
    Ok(())
}

/// Polls `/readyz` for up to ten minutes (the first run builds the server).
fn wait_ready(port: u16, server: &mut Child) -> Result<bool> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(600) {
        if let Some(status) = server.try_wait()? {
            bail!("the server exited with {status}");
        }
        if ready(port) {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(false)
}

/// One plain HTTP/1.0 `GET /readyz`; true on a 200.
fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    if conn
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

/// Opens `url` with the platform's opener; prints it when there is none.
fn open(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if Command::new(opener).arg(url).spawn().is_err() {
        println!("open {url} in a browser ({opener} is not available)");
    }
}
