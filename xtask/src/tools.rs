//! External tools (buf from npm) and the test entry point.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

/// The pinned tools live in `tools/node_modules` (npm lock file in `tools/`).
pub fn buf() -> Result<PathBuf> {
    let root = crate::root();
    let bin = root.join("tools/node_modules/.bin/buf");
    if !bin.exists() {
        println!("installing pinned tools (npm ci in tools/)...");
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(root.join("tools"))
            .status()
            .context("running npm (Node.js is needed for buf)")?;
        if !status.success() || !bin.exists() {
            bail!("npm ci in tools/ failed");
        }
    }
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

pub fn test(args: &[String]) -> Result<()> {
    let root = crate::root();
    let buf = buf()?;
    run(Command::new("cargo")
        .args(["build", "--workspace", "--all-targets"])
        .current_dir(&root))?;
    run(Command::new("cargo")
        .args(["test", "--workspace"])
        .args(args)
        .env("DOTLANTH_BUF", &buf)
        .current_dir(&root))
}
