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

pub fn test(args: &[String]) -> Result<()> {
    let root = crate::root();
    let buf = buf()?;
    let python = python()?;
    let chromium = chromium()?;
    // Integration tests get their binaries (`dotlanth`, `protoc-gen-dotlanth`,
    // `xtask`) built by cargo itself.
    run(Command::new("cargo")
        .args(["test", "--workspace", "--all-targets", "--locked"])
        .args(args)
        .env("DOTLANTH_BUF", &buf)
        .env("DOTLANTH_PYTHON", &python)
        .env("DOTLANTH_CHROMIUM", &chromium)
        .current_dir(&root))
}
