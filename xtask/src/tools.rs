//! External tools (buf from npm) and the test entry point.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

/// The pinned tools live in `tools/node_modules`, installed with `npm ci` from
/// `tools/package-lock.json` and reinstalled whenever that lock file changes.
pub fn buf() -> Result<PathBuf> {
    let root = crate::root();
    let tools = root.join("tools");
    let bin = tools.join("node_modules/.bin/buf");
    let lock = std::fs::read(tools.join("package-lock.json"))?;
    let stamp = tools.join("node_modules/.installed-package-lock.json");
    if bin.exists() && std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return Ok(bin);
    }
    println!("installing pinned tools (npm ci in tools/)...");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&tools)
        .status()
        .context("running npm (Node.js is needed for buf)")?;
    if !status.success() || !bin.exists() {
        bail!("npm ci in tools/ failed");
    }
    std::fs::write(&stamp, lock)?;
    Ok(bin)
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// The committed API baseline that `buf breaking` compares against.
const BASELINE: &str = "api/baseline.binpb";

pub fn buf_lint() -> Result<()> {
    run(Command::new(buf()?)
        .arg("lint")
        .current_dir(crate::root().join("proto")))?;
    println!("buf lint: ok");
    Ok(())
}

pub fn buf_breaking() -> Result<()> {
    let root = crate::root();
    run(Command::new(buf()?)
        .args(["breaking", "proto", "--against"])
        .arg(root.join(BASELINE))
        .current_dir(&root))?;
    println!("buf breaking against {BASELINE}: ok");
    Ok(())
}

pub fn move_baseline() -> Result<()> {
    let root = crate::root();
    std::fs::create_dir_all(root.join("api"))?;
    run(Command::new(buf()?)
        .args(["build", "proto", "--exclude-source-info", "-o"])
        .arg(root.join(BASELINE))
        .current_dir(&root))?;
    println!(
        "moved the API baseline to the current protos ({BASELINE}); commit it with a note on why"
    );
    Ok(())
}

/// The test virtualenv (`.venv`), (re)installed from `tests/python/requirements.txt`
/// whenever that lock file changes.
pub fn python() -> Result<PathBuf> {
    let root = crate::root();
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    let lock = std::fs::read(root.join("tests/python/requirements.txt"))?;
    let stamp = venv.join("installed-requirements.txt");
    if python.exists() && std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return Ok(python);
    }
    println!("installing pinned Python test packages into .venv...");
    run(Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(root.join("tests/python/requirements.txt")))?;
    std::fs::write(&stamp, lock)?;
    Ok(python)
}

/// A headless browser for the browser tests: `$DOTLANTH_CHROMIUM`, else Debian's
/// `chromium`, installed with apt-get when missing and we are root (as in CI).
pub fn chromium() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("DOTLANTH_CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    let bin = PathBuf::from("/usr/bin/chromium");
    if bin.exists() {
        return Ok(bin);
    }
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root_user {
        bail!(
            "the browser tests need Chromium: install Debian's `chromium` package or set DOTLANTH_CHROMIUM"
        );
    }
    println!("installing chromium (apt-get) for the browser tests...");
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    if !bin.exists() {
        bail!("apt-get installed no /usr/bin/chromium");
    }
    Ok(bin)
}

/// The googleapis services that `tests/e2e/real_world.rs` serves through the echo
/// backend: protos no one here wrote, as shipped in `google-proto-files`.
const GOOGLEAPIS_ECHO: &[&str] = &[
    "google/pubsub/v1",
    "google/cloud/tasks/v2",
    "google/cloud/secretmanager/v1",
    "google/longrunning",
    "google/cloud/run/v2",
];

/// Arguments of `cargo test` that select targets: with one of them the caller
/// chose what to build, and `--all-targets` (which overrides them) is left out.
const TARGET_SELECTORS: &[&str] = &[
    "--lib",
    "--bin",
    "--bins",
    "--test",
    "--tests",
    "--bench",
    "--benches",
    "--example",
    "--examples",
    "--doc",
];

pub fn test(args: &[String]) -> Result<()> {
    let root = crate::root();
    let buf = buf()?;
    let python = python()?;
    let chromium = chromium()?;
    // The echo server over real googleapis services, built here: a test cannot
    // build it (a nested cargo would wait for `cargo test`'s lock on the shared
    // target directory). `buf()` installed `google-proto-files` with `npm ci`.
    let started = std::time::Instant::now();
    let googleapis = std::fs::canonicalize(root.join("tools/node_modules/google-proto-files"))
        .context("tools/node_modules/google-proto-files is missing")?;
    let only: Vec<String> = GOOGLEAPIS_ECHO.iter().map(|s| s.to_string()).collect();
    let echo = crate::echo::build(&root, &googleapis, &only, Default::default())
        .context("building the googleapis echo server")?;
    println!(
        "googleapis echo server ready in {:.1}s: {}",
        started.elapsed().as_secs_f64(),
        echo.display()
    );
    let selected = args.iter().any(|a| {
        TARGET_SELECTORS
            .iter()
            .any(|s| a == s || a.starts_with(&format!("{s}=")))
    });
    // Integration tests get their binaries (`dotlanth`, `protoc-gen-dotlanth`,
    // `xtask`) built by cargo itself.
    run(Command::new("cargo")
        .args(["test", "--workspace", "--locked"])
        .args((!selected).then_some("--all-targets"))
        .args(args)
        .env("DOTLANTH_BUF", &buf)
        .env("DOTLANTH_PYTHON", &python)
        .env("DOTLANTH_CHROMIUM", &chromium)
        .env("DOTLANTH_GOOGLEAPIS_ECHO", &echo)
        .current_dir(&root))
}
